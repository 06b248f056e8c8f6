"""The `scheduler` Procfile process: once per slot across replicas, through restarts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from tournaments.contracts import PERIODIC_QUEUES, slot_message_id

from tests.fakes.tournaments_support import drain, log_lines, start
from tests.support import Stack, eventually
from tests.support.stack import free_port

pytestmark = pytest.mark.e2e

EVERY_SECOND = {"TOURNAMENTS_EVERY": "1", "DEADLINES_EVERY": "1"}


def _running(stack: Stack, label: str) -> bool:
    return any(e.get("msg") == "scheduler running" for e in log_lines(stack, label))


def _fewest_published(stack: Stack) -> int:
    """Messages waiting in the least filled periodic queue (nothing consumes them here)."""
    management = stack.env["RABBITMQ_MANAGEMENT_URL"]
    vhost = stack.env["RABBITMQ_URL"].rsplit("/", 1)[1]
    depths = []
    for queue in PERIODIC_QUEUES.values():
        answer = httpx.get(f"{management}/api/queues/{vhost}/{queue.name}", timeout=5)
        depths.append(answer.json().get("messages", 0) if answer.status_code == 200 else 0)
    return min(depths)


def test_two_scheduler_replicas_publish_each_job_once_per_slot_across_restarts(
    stack: Stack, env: dict[str, Any]
) -> None:
    metrics_port = free_port()
    first = start(stack, "scheduler", replica=1, METRICS_PORT=metrics_port, **EVERY_SECOND)
    second = start(stack, "scheduler", replica=2, **EVERY_SECOND)
    eventually(lambda: _running(stack, first) and _running(stack, second), timeout=60)

    # Both replicas run with a 1 s period for 10 slots ...
    eventually(lambda: _fewest_published(stack) >= 10, timeout=90)
    metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert "relay_schedule_published_total" in metrics

    # ... then one dies without warning and comes back: no slot may be doubled or skipped
    # while the other carries on.
    stack.kill(first)
    restarted = start(stack, "scheduler", replica=3, **EVERY_SECOND)
    eventually(lambda: _running(stack, restarted), timeout=60)
    before = _fewest_published(stack)
    eventually(lambda: _fewest_published(stack) >= max(before + 3, 13), timeout=60)
    for label in (second, restarted):
        stack.terminate(label)

    for job, queue in PERIODIC_QUEUES.items():
        published = drain(env["RABBITMQ_URL"], queue.name)
        slots = [message.body["slot"] for message in published]
        doubled = [slot for slot, n in Counter(slots).items() if n > 1]
        assert doubled == [], f"{job}: slots published twice: {doubled}"
        assert sorted(slots) == list(range(min(slots), max(slots) + 1)), f"{job}: skipped slots"
        assert len(slots) >= 13, f"{job}: only {len(slots)} slots"
        for message in published:
            assert message.body["job"] == job
            assert message.message_id == slot_message_id(job, message.body["slot"])

    # Each replica logged only the slots it won; together they cover every slot once.
    won = Counter(
        (entry["job"], entry["slot"])
        for label in (first, second, restarted)
        for entry in log_lines(stack, label)
        if entry.get("msg") == "periodic job published"
    )
    assert won and max(won.values()) == 1
