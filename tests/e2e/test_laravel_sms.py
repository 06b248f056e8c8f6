"""Laravel's SMS jobs run in Relay: real Laravel builds and publishes them as the RabbitMQ
driver does, the `bridge` process hands them to the sms domain, the sms worker sends them
to a fake provider (a real HTTP server). 1,000 jobs arrive once each, even when the bridge
is SIGKILLed mid-stream."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.fakes.laravel_support import (
    BULK_JOB,
    SMS_JOB,
    USER_MODEL,
    bridge_outcomes,
    dispatch,
    failed_jobs,
    fresh_logs,
    publish_raw,
    queue_depth,
    sql,
    start_bridge,
    wait_settled,
)
from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import campaign_progress, start_sms, wait_for_status
from tests.support import Stack, eventually
from tests.support.laravel import eloquent_model, require_php

pytestmark = pytest.mark.e2e

# The Laravel app's user 1 is Relay user "1": a key acting for it reads its SMS.
LARAVEL_USER_KEYS = {"API_KEYS": "user-key=1,other-key=user-2"}


@pytest.fixture(autouse=True)
def _php(stack: Stack) -> None:
    require_php()
    fresh_logs(stack)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(keep_calls=False) as provider:
        yield provider


def test_a_thousand_send_sms_jobs_reach_the_provider_once_each_across_a_bridge_sigkill(
    stack: Stack, fake: FakeProvider
) -> None:
    # A hand-over killed between its commit and the confirm: its staged job goes out soon.
    settings = start_sms(stack, fake, OUTBOX_SWEEP_AFTER="5", **LARAVEL_USER_KEYS)
    published = dispatch(
        stack,
        "sms",
        [{"class": SMS_JOB, "args": [1, "+241 77 75 07 37", "Test n°{i}"], "count": 1000}],
    )
    assert len({m.uuid for m in published}) == 1000
    # A small prefetch: the kill lands while most jobs still wait on the Laravel queue.
    start_bridge(stack, "sms", LARAVEL_PREFETCH=20, **settings)

    def some_handed_over() -> int:
        [row] = sql(stack, "SELECT count(*) AS n FROM sms.messages")
        return int(row["n"]) >= 100

    eventually(some_handed_over, timeout=60, interval=0.05)
    stack.signal("bridge", signal.SIGKILL)
    stack.processes["bridge"].wait(10)
    [row] = sql(stack, "SELECT count(*) AS n FROM sms.messages")
    left, _ = queue_depth(stack, "sms")
    assert row["n"] < 1000 and left > 0, "the bridge was killed after the stream, not in it"

    start_bridge(stack, "sms", LARAVEL_PREFETCH=20, **settings)
    eventually(lambda: len(fake.deliveries) >= 1000, timeout=120, interval=0.5)
    wait_settled(stack, "sms")

    assert set(fake.deliveries) == {m.uuid for m in published}  # 0 lost, each once
    assert fake.state.duplicates == 0  # no SMS reached the provider twice
    rows = sql(stack, "SELECT user_id, status, count(*) AS n FROM sms.messages GROUP BY 1, 2")
    assert rows == [{"user_id": "1", "status": "sent", "n": 1000}]
    assert failed_jobs(stack, "laravel.sms") == [] and failed_jobs(stack, "sms.send") == []
    with stack.client() as client:
        sent = wait_for_status(client, published[0].uuid or "", "sent")
    assert sent["to"] == "+24177750737" and sent["message"] == "Test n°{i}"


def test_the_same_laravel_job_twice_sends_one_sms_and_a_model_stands_for_its_key(
    stack: Stack, fake: FakeProvider
) -> None:
    settings = start_sms(stack, fake, **LARAVEL_USER_KEYS)
    start_bridge(stack, "sms", **settings)
    [first] = dispatch(
        stack,
        "sms",
        [{"class": SMS_JOB, "args": [eloquent_model(USER_MODEL, 1), "077750737", "Code: 1234"]}],
    )
    publish_raw(stack, "sms", [first.body, first.body], attempts=0)
    with stack.client() as client:
        sent = wait_for_status(client, first.uuid or "", "sent")
    wait_settled(stack, "sms")
    assert sent["to"] == "+24177750737" and sent["attempts"] == 1
    assert list(fake.deliveries) == [first.uuid]
    outcomes = [line["outcome"] for line in bridge_outcomes(stack)]
    assert sorted(outcomes) == ["accepted", "duplicate", "duplicate"]


def test_laravel_tries_and_attempts_are_carried_into_the_relay_job(
    stack: Stack, fake: FakeProvider
) -> None:
    settings = start_sms(stack, fake, JOB_MAX_ATTEMPTS="5", **LARAVEL_USER_KEYS)
    start_bridge(stack, "sms", **settings)
    fake.answer_all(503)  # the provider is down: every attempt fails
    # $tries = 3, released once by a PHP worker already (laravel.attempts = 1): two
    # attempts are left in Relay, whatever JOB_MAX_ATTEMPTS says.
    [job] = dispatch(
        stack,
        "sms",
        [
            {
                "class": SMS_JOB,
                "args": [1, "+24177750737", "carried"],
                "set": {"tries": 3, "backoff": [1]},
                "attempts": 1,
            }
        ],
    )
    with stack.client() as client:
        failed = wait_for_status(client, job.uuid or "", "failed", timeout=60)
    assert failed["attempts"] == 2  # provider calls made in Relay
    [dead] = eventually(lambda: failed_jobs(stack, "sms.send"), timeout=30)
    assert dead["attempts"] == 3  # Laravel's count: the third attempt was the last


def test_a_bulk_job_becomes_one_campaign_with_its_rows_personalised_and_rejected(
    stack: Stack, fake: FakeProvider
) -> None:
    settings = start_sms(stack, fake, **LARAVEL_USER_KEYS)
    start_bridge(stack, "bulk-sms", **settings)
    recipients = [
        "+24177000001",
        {"phone": "+24177000002", "name": "Awa", "balance": 1500},
        {"to": "077000003", "name": "Jean"},
        "not a number",
    ]
    [job] = dispatch(
        stack,
        "bulk-sms",
        [{"class": BULK_JOB, "args": [1, recipients, "Bonjour #name, solde #balance", "Rappel"]}],
    )
    with stack.client() as client:

        def completed() -> dict[str, object]:
            progress = campaign_progress(client, job.uuid or "")
            assert progress["status"] == "completed", progress
            return progress

        done = eventually(completed, timeout=60, interval=0.2)
    assert (done["total"], done["sent"], done["rejected"]) == (3, 3, 1)
    bodies = sorted(d.body for d in fake.deliveries.values())
    assert bodies == ["Bonjour , solde ", "Bonjour Awa, solde 1500", "Bonjour Jean, solde "]
    [campaign] = sql(stack, "SELECT name, user_id FROM sms.campaigns")
    assert campaign == {"name": "Rappel", "user_id": "1"}
