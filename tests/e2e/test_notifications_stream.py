"""Live push over SSE: across gateway replicas, Last-Event-ID replay, heartbeats, other domains."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.fakes.notifications_sse import SseClient
from tests.support import OTHER_KEY, USER_KEY, Stack, eventually
from tests.support.stack import free_port

pytestmark = pytest.mark.e2e

STREAM = "/v1/notifications/stream"


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _notify(
    base_url: str, priority: str = "normal", title: str = "hi"
) -> tuple[dict[str, Any], float]:
    body = {"user_id": "user-1", "title": title, "message": "live", "priority": priority}
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {USER_KEY}"}, timeout=15
    ) as client:
        answer = client.post("/v1/notifications", json=body)
    answered_at = time.monotonic()
    assert answer.status_code in (201, 202), answer.text
    return dict(answer.json()), answered_at


def test_stream_on_replica_a_receives_within_1s_what_replica_b_created_and_replays_on_reconnect(
    stack: Stack,
) -> None:
    port_b = free_port()
    stack.start("gateway")
    stack.start("gateway", replica=2, GATEWAY_PORT=port_b)
    stack.start("notifications")
    stack.wait_ready()
    replica_b = f"http://127.0.0.1:{port_b}"
    eventually(lambda: _ready(replica_b), timeout=60)
    stack.wait_consuming("notifications.normal")

    with (
        SseClient(f"{stack.url}{STREAM}", USER_KEY) as stream,
        SseClient(f"{stack.url}{STREAM}", OTHER_KEY) as other,
    ):
        assert stream.status == 200
        created, answered_at = _notify(replica_b, "normal", title="first")
        event = stream.next(timeout=10)
        assert event.event == "notification"
        assert event.json()["id"] == created["id"] and event.json()["title"] == "first"
        latency = event.received_at - answered_at
        assert latency < 1.0, f"delivered {latency:.3f}s after the 202"

        critical, answered_at = _notify(replica_b, "critical", title="second")
        event = stream.next(timeout=10)
        assert event.json()["id"] == critical["id"]
        assert event.received_at - answered_at < 1.0
        last_seen = event.id
        other.assert_quiet(0.5)  # another user's stream gets none of it

    # Disconnected: two notifications are missed, one queued and one critical.
    missed = [
        _notify(replica_b, "normal", title="missed-1")[0],
        _notify(replica_b, "critical", title="missed-2")[0],
    ]
    with httpx.Client(
        base_url=stack.url, headers={"Authorization": f"Bearer {USER_KEY}"}
    ) as client:
        eventually(lambda: client.get("/v1/notifications").json()["unread_count"] == 4, timeout=30)

    with SseClient(f"{stack.url}{STREAM}", USER_KEY, last_event_id=last_seen) as resumed:
        replayed = resumed.take(2, timeout=10)
        assert {e.json()["id"] for e in replayed} == {n["id"] for n in missed}
        assert [int(e.id or 0) for e in replayed] == [
            int(last_seen or 0) + 1,
            int(last_seen or 0) + 2,
        ]
        resumed.assert_quiet(0.5)  # nothing twice
        live, _ = _notify(replica_b, "high", title="after-replay")
        event = resumed.next(timeout=10)
        assert event.json()["id"] == live["id"] and int(event.id or 0) == int(last_seen or 0) + 3


def test_idle_stream_gets_heartbeats(stack: Stack) -> None:
    stack.start("gateway", SSE_HEARTBEAT_SECONDS=0.3)
    stack.wait_ready()
    with SseClient(f"{stack.url}{STREAM}", USER_KEY) as stream:
        eventually(lambda: stream.comments.count("heartbeat") >= 2, timeout=10)


def test_stream_without_a_key_is_401_and_bad_last_event_id_is_422(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with stack.client(None) as anonymous:
        assert anonymous.get(STREAM).status_code == 401
    with stack.client(USER_KEY, **{"Last-Event-ID": "abc"}) as client:
        assert client.get(STREAM).status_code == 422


def test_notification_from_another_domain_arrives_the_same_way(
    stack: Stack, env: dict[str, Any]
) -> None:
    """A tournament deadline warning is a CreateNotification job published by that worker."""
    from common.publisher import Publisher
    from common.settings import RuntimeSettings
    from notifications.contracts import (
        CreateNotification,
        NotificationType,
        Priority,
        queue_for,
    )

    async def publish_warning(job: CreateNotification) -> None:
        publisher = Publisher(
            RuntimeSettings(rabbitmq_url=env["RABBITMQ_URL"]), [queue_for(job.priority)]
        )
        await publisher.connect()
        await publisher.publish(queue_for(job.priority), job)
        await publisher.close()

    stack.start("gateway")
    stack.start("notifications")
    stack.wait_ready()
    stack.wait_consuming("notifications.high")
    warning = CreateNotification(
        user_id="user-1",
        title="Match deadline in 1 hour",
        message="Play your match before the deadline",
        type=NotificationType.warning,
        priority=Priority.high,
    )
    with SseClient(f"{stack.url}{STREAM}", USER_KEY) as stream:
        asyncio.run(publish_warning(warning))
        event = stream.next(timeout=10).json()
        assert event["id"] == str(warning.id) and event["type"] == "warning"
