"""The tournaments handlers in a Worker against real RabbitMQ, Postgres, Redis and an
aiosmtpd sink on localhost (the e2e tests run the same code as Procfile processes)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from common.consumer import JobOutcome, Worker
from common.runtime import Runtime
from tournaments.contracts import (
    EMAIL,
    EXPIRE_MATCHES,
    WARN_DEADLINES,
    RunPeriodic,
    SendEmail,
    player_message_id,
)
from tournaments.jobs import router
from tournaments.settings import TournamentSettings

from tests.fakes.tournaments_smtp import SmtpSink
from tests.fakes.tournaments_support import drain, seed_match
from tests.support import eventually_async
from tests.support.stack import free_port


@dataclass
class RunningWorker:
    runtime: Runtime
    worker: Worker
    seen: list[JobOutcome] = field(default_factory=list)

    def outcomes(self, queue: str) -> Counter[str]:
        return Counter(o.outcome for o in self.seen if o.queue == queue)

    async def done(self, queue: str, count: int, within: float = 30) -> None:
        async def reached() -> bool:
            return self.outcomes(queue)["done"] >= count

        await eventually_async(reached, timeout=within)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


@pytest.fixture
async def start_worker(
    env: dict[str, Any],
) -> AsyncIterator[Callable[..., Any]]:
    """Start the tournaments router in a Worker with TournamentSettings built from `env`."""
    started: list[RunningWorker] = []

    async def start(**overrides: Any) -> RunningWorker:
        values = {key.lower(): value for key, value in env.items()}
        values.update(
            job_retry_delays=[0.2, 0.5],
            job_max_attempts=3,
            email_rate_per_minute=6000,
            smtp_host="127.0.0.1",
        )
        values.update(overrides)
        runtime = await Runtime.start(TournamentSettings(**values), "tournaments-test")
        worker = Worker(runtime, router, concurrency=10)
        running = RunningWorker(runtime, worker)

        async def observe(outcome: JobOutcome) -> None:
            running.seen.append(outcome)

        worker.observers.append(observe)
        await worker.start()
        started.append(running)
        return running

    yield start
    for running in started:
        await running.worker.stop(1)
        await running.runtime.close()


async def test_warn_deadlines_run_twice_warns_each_player_once_by_email_and_notification(
    sink: SmtpSink, start_worker: Any, env: dict[str, Any]
) -> None:
    running: RunningWorker = await start_worker(smtp_port=sink.port, deadline_warning=3600)
    runtime = running.runtime
    async with runtime.pool.acquire() as connection:
        soon = await seed_match(connection, deadline_in_seconds=1800)
        later = await seed_match(connection, deadline_in_seconds=3 * 3600)

    # Two runs at once (concurrent in one worker), then a third after they are done.
    for _ in range(2):
        await runtime.publisher.publish(WARN_DEADLINES, RunPeriodic(job="warn_deadlines"))
    await running.done(WARN_DEADLINES.name, 2)
    await runtime.publisher.publish(WARN_DEADLINES, RunPeriodic(job="warn_deadlines"))
    await running.done(WARN_DEADLINES.name, 3)
    await running.done(EMAIL.name, 2)

    for address in soon.emails:
        [mail] = sink.to(address)
        assert "deadline" in mail.subject
    assert [r for r in sink.snapshot() if r.to in later.emails] == []
    assert running.outcomes(EMAIL.name) == Counter(done=2)

    notifications = drain(env["RABBITMQ_URL"], "notifications.high")
    assert sorted(n.body["user_id"] for n in notifications) == sorted(soon.users)
    for notification in notifications:
        assert notification.type == "CreateNotification"
        assert notification.message_id == notification.body["id"]
        assert notification.body["type"] == "warning"
    expected_ids = {str(player_message_id(soon.match_id, p, "warning")) for p in soon.players}
    assert {n.body["id"] for n in notifications} == expected_ids

    warned = await runtime.pool.fetchval("SELECT count(*) FROM tournaments.deadline_warnings")
    assert warned == 2
    unpublished = await runtime.pool.fetchval(
        "SELECT count(*) FROM tournaments.outbox WHERE published_at IS NULL"
    )
    assert unpublished == 0


async def test_expire_matches_marks_past_deadline_match_expired_once_and_tells_both_players(
    sink: SmtpSink, start_worker: Any, env: dict[str, Any]
) -> None:
    running: RunningWorker = await start_worker(smtp_port=sink.port)
    runtime = running.runtime
    async with runtime.pool.acquire() as connection:
        overdue = await seed_match(connection, deadline_in_seconds=-60)
        ongoing = await seed_match(connection, deadline_in_seconds=600)

    await runtime.publisher.publish(EXPIRE_MATCHES, RunPeriodic(job="expire_matches"))
    await running.done(EXPIRE_MATCHES.name, 1)
    first = await _match(runtime.pool, overdue.match_id)
    assert first["status"] == "expired" and first["expired_at"] is not None

    await runtime.publisher.publish(EXPIRE_MATCHES, RunPeriodic(job="expire_matches"))
    await running.done(EXPIRE_MATCHES.name, 2)
    second = await _match(runtime.pool, overdue.match_id)
    assert second["expired_at"] == first["expired_at"]  # not expired a second time
    assert (await _match(runtime.pool, ongoing.match_id))["status"] == "pending"

    told = drain(env["RABBITMQ_URL"], "notifications.normal")
    assert sorted(n.body["user_id"] for n in told) == sorted(overdue.users)
    assert all(n.body["title"] == "Match expired" for n in told)


async def test_transient_smtp_error_is_retried_and_the_email_delivered_once(
    sink: SmtpSink, start_worker: Any
) -> None:
    running: RunningWorker = await start_worker(smtp_port=sink.port)
    sink.defer["busy@example.test"] = 2
    job = SendEmail(id=uuid.uuid4(), to="busy@example.test", subject="Hello", body="Round 2")
    await running.runtime.publisher.publish(EMAIL, job)

    await running.done(EMAIL.name, 1)
    [mail] = sink.to("busy@example.test")
    assert mail.email_id == str(job.id)
    assert [code for _, code in sink.refused] == [451, 451]
    assert running.outcomes(EMAIL.name) == Counter(retried=2, done=1)
    assert await running.runtime.failed_jobs.count() == 0


async def test_smtp_server_down_is_retried_until_it_answers(start_worker: Any) -> None:
    port = free_port()  # nothing listens here yet: connection refused
    running: RunningWorker = await start_worker(
        smtp_port=port, job_retry_delays=[1.0], job_max_attempts=6
    )
    job = SendEmail(id=uuid.uuid4(), to="late@example.test", subject="Hi", body="Later")
    await running.runtime.publisher.publish(EMAIL, job)

    async def retried() -> bool:
        return running.outcomes(EMAIL.name)["retried"] >= 1

    await eventually_async(retried, timeout=30)
    sink = SmtpSink(port=port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await running.done(EMAIL.name, 1)
    finally:
        controller.stop()
    assert len(sink.to("late@example.test")) == 1
    assert await running.runtime.failed_jobs.count() == 0


async def test_rejected_recipient_fails_at_once_without_retry(
    sink: SmtpSink, start_worker: Any
) -> None:
    running: RunningWorker = await start_worker(smtp_port=sink.port)
    sink.reject.add("nobody@example.test")
    job = SendEmail(id=uuid.uuid4(), to="nobody@example.test", subject="Hi", body="?")
    await running.runtime.publisher.publish(EMAIL, job)

    [failed] = await eventually_async(running.runtime.failed_jobs.list, timeout=30)
    assert failed.attempts == 1 and failed.queue == EMAIL.name
    assert "550" in failed.error and "Permanent" in failed.error
    assert running.outcomes(EMAIL.name) == Counter(failed=1)


async def test_same_email_job_delivered_twice_is_sent_once(
    sink: SmtpSink, start_worker: Any
) -> None:
    running: RunningWorker = await start_worker(smtp_port=sink.port)
    job = SendEmail(id=uuid.uuid4(), to="twice@example.test", subject="Once", body="Only once")
    await running.runtime.publisher.publish(EMAIL, job)
    await running.runtime.publisher.publish(EMAIL, job)

    await running.done(EMAIL.name, 2)
    assert len(sink.to("twice@example.test")) == 1


async def _match(pool: asyncpg.Pool, match_id: uuid.UUID) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT status, expired_at FROM tournaments.matches WHERE id = $1", match_id
    )
    assert row is not None
    return row
