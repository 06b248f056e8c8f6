"""Notifications through the gateway: queued and critical paths, listing, priorities."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.support import OTHER_KEY, Stack, eventually

pytestmark = pytest.mark.e2e


def _notify(
    client: httpx.Client, priority: str = "normal", user_id: str = "user-1", **extra: Any
) -> httpx.Response:
    body = {
        "user_id": user_id,
        "title": f"{priority} title",
        "message": "hello",
        "type": "info",
        "priority": priority,
    }
    return client.post("/v1/notifications", json={**body, **extra})


def _listed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/v1/notifications", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_normal_notification_is_listed_after_processing(stack: Stack) -> None:
    stack.start("gateway")
    stack.start("notifications")
    stack.wait_ready()
    with stack.client() as client:
        answer = _notify(client, "normal", type="success")
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "queued"
        notification_id = answer.json()["id"]
        listed = eventually(
            lambda: [n for n in _listed(client) if n["id"] == notification_id], timeout=30
        )
        assert listed[0]["type"] == "success" and listed[0]["read"] is False
        high = _notify(client, "high")
        assert high.status_code == 202
        eventually(lambda: any(n["id"] == high.json()["id"] for n in _listed(client)), timeout=30)


def test_critical_notification_is_listed_in_the_201_answers_wake_with_no_worker(
    stack: Stack,
) -> None:
    stack.start("gateway")  # no notifications worker at all
    stack.wait_ready()
    with stack.client() as client:
        answer = _notify(client, "critical", type="error")
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert created["priority"] == "critical" and created["seq"] == 1
        listed = _listed(client)
        assert [n["id"] for n in listed] == [created["id"]]


def test_listing_is_newest_first_paginated_with_unread_filter_and_mark_as_read(
    stack: Stack,
) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with stack.client() as client, stack.client(OTHER_KEY) as other:
        ids = [_notify(client, "critical", title=f"n{i}").json()["id"] for i in range(5)]
        first = client.get("/v1/notifications", params={"limit": 2}).json()
        assert [n["id"] for n in first["items"]] == [ids[4], ids[3]]
        assert first["unread_count"] == 5
        second = client.get(
            "/v1/notifications", params={"limit": 2, "before": first["next_before"]}
        ).json()
        third = client.get(
            "/v1/notifications", params={"limit": 2, "before": second["next_before"]}
        ).json()
        assert [n["id"] for n in second["items"] + third["items"]] == [ids[2], ids[1], ids[0]]
        assert third["next_before"] is None

        read = client.post(f"/v1/notifications/{ids[1]}/read")
        assert read.status_code == 200 and read.json()["read"] is True
        assert (
            client.post(f"/v1/notifications/{ids[1]}/read").json()["read_at"]
            == read.json()["read_at"]
        )
        unread = [n["id"] for n in _listed(client, unread="true")]
        assert unread == [ids[4], ids[3], ids[2], ids[0]]

        assert other.post(f"/v1/notifications/{ids[0]}/read").status_code == 404
        assert other.get(f"/v1/notifications/{ids[0]}").status_code == 404
        assert _listed(other) == []
        assert client.post(f"/v1/notifications/{uuid.uuid4()}/read").status_code == 404


def test_invalid_notification_is_422_naming_the_field(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with stack.client() as client:
        for field, value in (
            ("type", "urgent"),
            ("priority", "asap"),
            ("title", ""),
            ("user_id", ""),
        ):
            answer = _notify(client, **{field: value})
            assert answer.status_code == 422, (field, answer.text)
            assert answer.json()["errors"][0]["field"] == field
        assert client.get("/v1/notifications", params={"limit": 0}).status_code == 422


def test_high_priority_is_consumed_ahead_of_a_normal_backlog(
    stack: Stack, env: dict[str, Any]
) -> None:
    from common.publisher import Publisher
    from common.settings import RuntimeSettings
    from notifications.contracts import NOTIFICATIONS_NORMAL, CreateNotification

    backlog = 400

    async def queue_backlog() -> None:
        publisher = Publisher(
            RuntimeSettings(rabbitmq_url=env["RABBITMQ_URL"]), [NOTIFICATIONS_NORMAL]
        )
        await publisher.connect()
        job = {"user_id": "user-1", "title": "bulk", "message": "backlog"}
        await asyncio.gather(
            *(
                publisher.publish(NOTIFICATIONS_NORMAL, CreateNotification(**job))
                for _ in range(backlog)
            )
        )
        await publisher.close()

    stack.start("gateway")
    stack.wait_ready()
    asyncio.run(queue_backlog())
    with stack.client() as client:
        urgent = _notify(client, "high", title="urgent").json()["id"]
        stack.start("notifications", WORKER_MAX_CONCURRENCY=4)

        def stored_urgent() -> dict[str, Any]:
            answer = client.get(f"/v1/notifications/{urgent}")
            assert answer.status_code == 200
            return dict(answer.json())

        position = eventually(stored_urgent, timeout=60)["seq"]
        # Stored among the first few, not after the backlog of `backlog` normal ones.
        assert position <= 40, f"high-priority notification was number {position} of {backlog + 1}"
        eventually(
            lambda: client.get("/v1/notifications").json()["unread_count"] == backlog + 1,
            timeout=90,
        )
