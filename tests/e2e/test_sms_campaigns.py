"""Campaigns: personalisation, exact counts, pacing, and exactly one message per recipient."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sms.contracts import campaign_message_id

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import campaign_progress, numbers, sms_status, start_sms
from tests.support import ADMIN_KEY, Stack, eventually

pytestmark = pytest.mark.e2e

TEMPLATE = "Bonjour #name, promesse #pledge, payé #paid_amount, reste #balance, #days_remain jours"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def _recipients(phones: list[str]) -> list[dict[str, Any]]:
    return [
        {"phone": phone, "name": f"Client {i}", "pledge": 1000 + i, "paid_amount": i * 10,
         "balance": 1000 - i * 10 + i, "days_remain": i % 30}
        for i, phone in enumerate(phones)
    ]  # fmt: skip


def _expected(recipient: dict[str, Any]) -> str:
    return (
        f"Bonjour {recipient['name']}, promesse {recipient['pledge']}, payé "
        f"{recipient['paid_amount']}, reste {recipient['balance']}, {recipient['days_remain']} jours"
    )


def test_personalised_campaign_of_1000_gives_each_recipient_their_own_text(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake, SMS_BULK_CHUNK=250, SMS_BULK_CHUNK_DELAY=0.3, SMS_BULK_PER_HOUR=0)
    recipients = _recipients(numbers(1000))
    invalid = [{"phone": "12"}, {"phone": "not a phone"}, {"name": "no phone"}, recipients[5]]
    rows = recipients[:500] + invalid + recipients[500:]
    with stack.client() as client:
        answer = client.post(
            "/v1/campaigns", json={"name": "relance", "message": TEMPLATE, "recipients": rows}
        )
        assert answer.status_code == 202, answer.text
        created = answer.json()
        assert created["total"] == 1000 and created["status"] == "queued"
        assert [r["row"] for r in created["rejected"]] == [500, 501, 502, 503]
        assert "duplicate" in created["rejected"][3]["error"]
        assert created["rejected"][0]["phone"] == "12"

        def converged() -> dict[str, Any]:
            progress = campaign_progress(client, created["id"])  # asserts the invariant
            assert progress["pending"] == 0, progress
            return progress

        final = eventually(converged, timeout=90, interval=0.3)
    assert final["sent"] == 1000 and final["failed"] == 0 and final["status"] == "completed"
    by_number = {d.to: d for d in fake.deliveries.values()}
    assert len(fake.deliveries) == 1000 and len(by_number) == 1000
    for recipient in recipients:
        assert by_number[recipient["phone"]].body == _expected(recipient)


def test_bulk_pacing_delays_without_spending_attempts_and_delivers_everything(
    stack: Stack, fake: FakeProvider
) -> None:
    # 10 per second with no burst: 25 messages need at least 2.4 s.
    start_sms(stack, fake, SMS_BULK_PER_HOUR=36000, SMS_BULK_BURST=1)
    phones = numbers(25)
    with stack.client() as client, stack.client(ADMIN_KEY) as admin:
        created = client.post(
            "/v1/campaigns",
            json={"name": "paced", "message": "Rappel", "recipients": _recipients(phones)},
        ).json()
        final = eventually(
            lambda: (p := campaign_progress(client, created["id"]))["pending"] == 0 and p,
            timeout=60,
            interval=0.3,
        )
        assert final["sent"] == 25
        times = sorted(d.at for d in fake.deliveries.values())
        assert times[-1] - times[0] >= 2.0, "pacing must spread the campaign out"
        campaign_id = uuid.UUID(created["id"])
        for row in (0, 12, 24):
            assert sms_status(client, str(campaign_message_id(campaign_id, row)))["attempts"] == 1
        assert admin.get("/v1/ops/failed").json() == []
    assert len(fake.state.calls) == 25


def test_failures_inside_a_campaign_batch_settle_message_by_message(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(
        stack, fake, SMS_BULK_CHUNK=5000, SMS_BULK_CHUNK_DELAY=0, SMS_BULK_PER_HOUR=0,
        SMS_BULK_BATCH=50,
    )  # fmt: skip
    phones = numbers(150)
    refused_row, flaky_row = 10, 60
    fake.refuse(phones[refused_row], 400)
    fake.fail_number(phones[flaky_row], 503, 503)
    with stack.client() as client, stack.client(ADMIN_KEY) as admin:
        created = client.post(
            "/v1/campaigns",
            json={"name": "batch", "message": "Bonjour #name", "recipients": _recipients(phones)},
        ).json()
        campaign_id = uuid.UUID(created["id"])
        refused_id = str(campaign_message_id(campaign_id, refused_row))
        flaky_id = str(campaign_message_id(campaign_id, flaky_row))
        final = eventually(
            lambda: (p := campaign_progress(client, created["id"]))["pending"] == 0 and p,
            timeout=60,
            interval=0.2,
        )
        assert (final["sent"], final["failed"]) == (149, 1)
        # The transient failures were retried on their own, with the runtime's backoff.
        flaky = sms_status(client, flaky_id)
        assert (flaky["status"], flaky["attempts"]) == ("sent", 3)
        # The refused message is a failed job of its own; its batch-mates were not held back.
        dead = admin.get("/v1/ops/failed", params={"queue": "sms.bulk"}).json()
        assert len(dead) == 1, dead
        assert dead[0]["payload"]["sms_ids"] == [refused_id]
        assert dead[0]["attempts"] == 1 and "400" in dead[0]["error"]
        assert sms_status(client, refused_id)["status"] == "failed"

        fake.state.refuse.clear()
        assert admin.post(f"/v1/ops/failed/{dead[0]['id']}/retry").status_code == 202
        revived = eventually(
            lambda: (s := sms_status(client, refused_id))["status"] == "sent" and s, timeout=30
        )
        assert revived["attempts"] == 2
    assert len(fake.deliveries) == 150
    assert max(fake.deliveries_per_number().values()) == 1


def test_provider_down_mid_campaign_pauses_its_batches_then_delivers_everything(
    stack: Stack, fake: FakeProvider
) -> None:
    fake.answer_all(503)
    start_sms(
        stack, fake, SMS_BREAKER_FAILURES=3, SMS_BREAKER_COOLDOWN=1, SMS_BULK_CHUNK=5000,
        SMS_BULK_CHUNK_DELAY=0, SMS_BULK_PER_HOUR=0, SMS_BULK_BATCH=50,
    )  # fmt: skip
    phones = numbers(150)
    with stack.client() as client, stack.client(ADMIN_KEY) as admin:
        created = client.post(
            "/v1/campaigns",
            json={"name": "outage", "message": "Bonjour #name", "recipients": _recipients(phones)},
        ).json()
        # Every message tried once, then probes: more calls than 3 attempts would allow some.
        eventually(lambda: fake.state.call_count >= 160, timeout=40, interval=0.2)
        assert admin.get("/v1/ops/failed").json() == []
        stalled = campaign_progress(client, created["id"])
        assert (stalled["sent"], stalled["failed"], stalled["pending"]) == (0, 0, 150)

        fake.answer_all(200)
        final = eventually(
            lambda: (p := campaign_progress(client, created["id"]))["pending"] == 0 and p,
            timeout=60,
            interval=0.3,
        )
        assert (final["sent"], final["failed"]) == (150, 0)
        assert admin.get("/v1/ops/failed").json() == []
    assert len(fake.deliveries) == 150
    assert max(fake.deliveries_per_number().values()) == 1


def test_sigkilled_worker_mid_campaign_leaves_exactly_one_message_per_recipient(
    stack: Stack, fake: FakeProvider
) -> None:
    fake.state.latency = 0.01
    settings = start_sms(
        stack, fake, workers=2, SMS_BULK_CHUNK=200, SMS_BULK_CHUNK_DELAY=0.1, SMS_BULK_PER_HOUR=0
    )
    phones = numbers(2000)
    with stack.client() as client:
        created = client.post(
            "/v1/campaigns",
            json={"name": "kill", "message": "Bonjour #name", "recipients": _recipients(phones)},
        ).json()
        eventually(lambda: len(fake.state.deliveries) >= 300, timeout=60, interval=0.05)
        stack.kill("sms.1")  # mid-campaign, with unacked messages and maybe a chunk half-published
        assert len(fake.state.deliveries) < 2000, "the kill must land mid-campaign"
        stack.start("sms", replica=3, **settings)

        final = eventually(
            lambda: (p := campaign_progress(client, created["id"]))["pending"] == 0 and p,
            timeout=120,
            interval=0.5,
        )
    assert final["sent"] == 2000
    per_number = fake.deliveries_per_number()
    assert set(per_number) == set(phones)
    assert max(per_number.values()) == 1
    campaign_id = uuid.UUID(created["id"])
    assert set(fake.deliveries) == {
        str(campaign_message_id(campaign_id, row)) for row in range(2000)
    }


def test_single_send_reaches_the_provider_within_2s_behind_a_20000_message_backlog(
    stack: Stack, fake: FakeProvider
) -> None:
    # The provider takes 100 ms per message and the worker holds one batch of 10 campaign
    # messages at a time: ~100 messages/s, far slower than the release, so the backlog
    # really waits.
    fake.state.latency = 0.1
    fake.state.keep_calls = False
    batch = 10
    start_sms(
        stack, fake, SMS_BULK_CHUNK=5000, SMS_BULK_CHUNK_DELAY=0, SMS_BULK_PER_HOUR=0,
        SMS_BULK_BATCH=batch, SMS_BULK_PREFETCH=1, SMS_CAMPAIGN_MAX_RECIPIENTS=20000,
    )  # fmt: skip
    management = stack.env["RABBITMQ_MANAGEMENT_URL"]
    vhost = stack.env["RABBITMQ_URL"].rsplit("/", 1)[1]
    with stack.client() as client:
        recipients = [{"phone": phone} for phone in numbers(20000)]
        created = client.post(
            "/v1/campaigns",
            json={"name": "backlog", "message": "Promo", "recipients": recipients},
            timeout=60,
        )
        assert created.status_code == 202, created.text

        def backlog() -> int:
            """Campaign messages waiting in sms.bulk (each queued job is one batch)."""
            import httpx

            queue = httpx.get(f"{management}/api/queues/{vhost}/sms.bulk", timeout=5).json()
            return int(queue.get("messages_ready", 0)) * batch

        eventually(lambda: backlog() >= 10000, timeout=90, interval=0.2)
        submitted = time.time()
        sms_id = client.post("/v1/sms", json={"to": "+24166000001", "message": "urgent"}).json()[
            "id"
        ]
        eventually(lambda: sms_id in fake.state.deliveries, timeout=10, interval=0.02)
        reached = fake.state.deliveries[sms_id].at - submitted
        waiting = 20000 - len(fake.state.deliveries)
    assert reached < 2.0, f"single send took {reached:.2f}s behind the backlog"
    assert waiting >= 5000, "the campaign backlog must still be queued when the single send lands"
