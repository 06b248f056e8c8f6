"""Queue control under a running campaign, on two sms workers sharing sms.bulk.

Pause stops both workers within a second and continue finishes the campaign with exact
counts; terminate makes both finish their running batches and exit, and once restarted
(this test is their process manager) they finish the campaign with nothing lost or sent twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import campaign_progress, numbers, start_sms
from tests.support import ADMIN_KEY, Stack, eventually

pytestmark = pytest.mark.e2e

RECIPIENTS = 1000
# Small batches at 50 ms per provider call: a running batch ends well within a second,
# and the campaign lasts long enough on two workers to be caught half-way.
CAMPAIGN_PACE = {
    "SMS_BULK_CHUNK": 5000,
    "SMS_BULK_CHUNK_DELAY": 0,
    "SMS_BULK_PER_HOUR": 0,
    "SMS_BULK_BATCH": 5,
    "SMS_BULK_PREFETCH": 2,
}


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        provider.state.latency = 0.05
        yield provider


def start_campaign(stack: Stack) -> str:
    recipients = [{"phone": phone} for phone in numbers(RECIPIENTS)]
    with stack.client() as client:
        answer = client.post(
            "/v1/campaigns", json={"name": "control", "message": "Rappel", "recipients": recipients}
        )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def finish(stack: Stack, campaign_id: str) -> dict[str, Any]:
    with stack.client() as client:
        return eventually(
            lambda: (p := campaign_progress(client, campaign_id))["pending"] == 0 and p,
            timeout=120,
            interval=0.3,
        )


def assert_each_recipient_sent_once(fake: FakeProvider) -> None:
    per_number = fake.deliveries_per_number()
    assert len(per_number) == RECIPIENTS and max(per_number.values()) == 1
    assert fake.state.call_count == RECIPIENTS, "a message was sent to the provider twice"


def test_pause_stops_both_sms_workers_within_a_second_and_continue_finishes_the_campaign(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake, workers=2, **CAMPAIGN_PACE)
    campaign_id = start_campaign(stack)
    eventually(lambda: len(fake.state.deliveries) >= RECIPIENTS // 4, timeout=60, interval=0.05)

    with stack.client(ADMIN_KEY) as admin:
        asked_at = time.time()
        paused = admin.post("/v1/ops/queues/sms.bulk/pause")
        assert paused.status_code == 200, paused.text
        # Long enough for a stray consumer to show itself: nothing reaches the provider.
        time.sleep(3)
        last_at = max(d.at for d in fake.deliveries.values())
        assert last_at - asked_at < 1.0, f"sending went on {last_at - asked_at:.2f}s after pause"
        with stack.client() as client:
            halted = campaign_progress(client, campaign_id)
        assert halted["pending"] > 0 and halted["status"] != "completed", halted
        delivered = len(fake.deliveries)
        assert delivered < RECIPIENTS
        # The waiting batches stay in RabbitMQ, consumed by nobody, once the jobs that were
        # already running have settled (on a loaded machine that takes a moment).
        row = eventually(
            lambda: (
                (q := _queue(admin, "sms.bulk"))["ready"] > 0
                and q["consumers"] == 0
                and q["unacked"] == 0
                and q
            ),
            timeout=30,
        )
        assert row["paused"] is True

        assert admin.post("/v1/ops/queues/sms.bulk/continue").status_code == 200
    final = finish(stack, campaign_id)
    assert (final["sent"], final["failed"], final["skipped"]) == (RECIPIENTS, 0, 0)
    assert final["status"] == "completed"
    assert_each_recipient_sent_once(fake)


def test_terminate_under_load_loses_nothing_and_sends_nothing_twice(
    stack: Stack, fake: FakeProvider
) -> None:
    settings = start_sms(stack, fake, workers=2, **CAMPAIGN_PACE)
    campaign_id = start_campaign(stack)
    eventually(lambda: len(fake.state.deliveries) >= RECIPIENTS // 4, timeout=60, interval=0.05)

    with stack.client(ADMIN_KEY) as admin:
        answer = admin.post("/v1/ops/workers/terminate")
    assert answer.status_code == 202, answer.text
    assert answer.json()["workers"] == 2
    # Both finish their running batches and exit by themselves, cleanly.
    for label in ("sms.1", "sms.2"):
        assert stack.processes[label].wait(30) == 0, stack.tail(label)
    with stack.client() as client:
        assert campaign_progress(client, campaign_id)["pending"] > 0

    # The process manager starts them again (on the new code, after a deploy).
    for replica in (3, 4):
        stack.start("sms", replica=replica, **settings)
    final = finish(stack, campaign_id)
    assert (final["sent"], final["failed"], final["skipped"]) == (RECIPIENTS, 0, 0)
    assert_each_recipient_sent_once(fake)
    with stack.client(ADMIN_KEY) as admin:
        assert admin.get("/v1/ops/failed").json() == []


def _queue(admin: Any, name: str) -> dict[str, Any]:
    [row] = [q for q in admin.get("/v1/ops/queues").json()["queues"] if q["name"] == name]
    return dict(row)
