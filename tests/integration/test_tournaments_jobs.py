"""The tournaments handlers in a Worker against real RabbitMQ, Postgres, Redis and an
aiosmtpd sink on localhost (the e2e tests run the same code as Procfile processes)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from common.consumer import JobContext, JobOutcome, Worker
from common.envelope import Envelope
from common.outbox import OutboxRelay
from common.runtime import Runtime
from common.web import Caller
from tournaments import jobs
from tournaments.api import decisions
from tournaments.contracts import (
    ADVANCE,
    EMAIL,
    EXPIRE_MATCHES,
    WARN_DEADLINES,
    AdvanceRound,
    RunPeriodic,
    SendEmail,
    advance_message_id,
    player_message_id,
)
from tournaments.jobs import router
from tournaments.settings import TournamentSettings

from tests.fakes.tournaments_smtp import SmtpSink
from tests.fakes.tournaments_support import drain, seed_match, seed_started
from tests.support import eventually_async
from tests.support.stack import free_port


@dataclass
class RunningWorker:
    runtime: Runtime
    worker: Worker
    relay: OutboxRelay
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
    """Start the tournaments router in a Worker, with its outbox relay, with
    TournamentSettings built from `env` (what `python -m tournaments` runs)."""
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
        relay = OutboxRelay(runtime.pool, runtime.publisher, runtime.settings.database_url, 1)
        running = RunningWorker(runtime, worker, relay)

        async def observe(outcome: JobOutcome) -> None:
            running.seen.append(outcome)

        worker.observers.append(observe)
        await worker.start()
        relay.start()
        started.append(running)
        return running

    yield start
    for running in started:
        await running.worker.stop(1)
        await running.relay.stop()
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
    await _outbox_published(runtime)

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

    await _outbox_published(runtime)
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


async def _outbox_published(runtime: Runtime) -> None:
    """Until every follow-up job the handlers staged is published (confirmed entries
    leave the runtime's outbox)."""

    async def published() -> bool:
        unpublished = await runtime.pool.fetchval("SELECT count(*) FROM runtime.outbox")
        return bool(unpublished == 0)

    await eventually_async(published, timeout=30)


async def _match(pool: asyncpg.Pool, match_id: uuid.UUID) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT status, expired_at FROM tournaments.matches WHERE id = $1", match_id
    )
    assert row is not None
    return row


async def test_a_settled_round_advances_once_across_workers_redeliveries_and_repeats(
    sink: SmtpSink, start_worker: Any, env: dict[str, Any]
) -> None:
    workers: list[RunningWorker] = [await start_worker(smtp_port=sink.port) for _ in range(2)]
    runtime = workers[0].runtime
    async with runtime.pool.acquire() as connection:
        cup = await seed_started(connection, players=4)
    await runtime.publisher.publish(ADVANCE, AdvanceRound(tournament_id=cup.tournament_id, round=0))

    async def first_round() -> list[asyncpg.Record]:
        return await _round(runtime.pool, cup.tournament_id, 1)

    matches = await eventually_async(first_round, timeout=30)
    organiser = Caller("organiser")
    for match in matches:
        # The gateway's SQL: decides the match and stages the advance job in the outbox.
        await decisions.record_result(
            runtime, cup.tournament_id, match["id"], match["player1_id"], organiser
        )
    drain(env["RABBITMQ_URL"], "notifications.normal")

    # The same round advanced many times at once: the outbox's copy (the relays publish
    # it), its own id again (a redelivery, a second trigger), another id (a trigger after
    # the outbox forgot the first). Two workers take them concurrently.
    settled = AdvanceRound(tournament_id=cup.tournament_id, round=1)
    same_id = str(advance_message_id(cup.tournament_id, 1))
    for message_id in (same_id, same_id, str(uuid.uuid4()), str(uuid.uuid4())):
        await runtime.publisher.publish(ADVANCE, settled, envelope=Envelope(message_id=message_id))

    async def all_done() -> bool:
        return sum(w.outcomes(ADVANCE.name)["done"] for w in workers) >= 6

    await eventually_async(all_done, timeout=30)
    # The row lock made every repeat wait and then find the round moved on: none failed
    # an attempt (a second creation would have hit the unique key and been retried).
    for worker in workers:
        assert set(worker.outcomes(ADVANCE.name)) == {"done"}
    [final] = await _round(runtime.pool, cup.tournament_id, 2)
    assert {final["player1_id"], final["player2_id"]} == {m["player1_id"] for m in matches}
    round_now = await runtime.pool.fetchval(
        "SELECT round FROM tournaments.tournaments WHERE id = $1", cup.tournament_id
    )
    assert round_now == 2

    # Each finalist was told of the final once.
    await _outbox_published(runtime)
    told = [
        n
        for n in drain(env["RABBITMQ_URL"], "notifications.normal")
        if n.body["title"].startswith("Round 2")
    ]
    assert sorted(n.body["id"] for n in told) == sorted(
        str(player_message_id(final["id"], p, "match"))
        for p in (final["player1_id"], final["player2_id"])
    )


async def _round(pool: asyncpg.Pool, tournament_id: uuid.UUID, number: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        """
        SELECT id, player1_id, player2_id, status FROM tournaments.matches
        WHERE tournament_id = $1 AND round = $2 ORDER BY position
        """,
        tournament_id,
        number,
    )
    return rows


async def test_expiry_and_a_result_settling_a_round_together_always_advance_it(
    sink: SmtpSink, start_worker: Any
) -> None:
    running: RunningWorker = await start_worker(smtp_port=sink.port)
    runtime = running.runtime
    cups = []
    async with runtime.pool.acquire() as connection:
        for _ in range(10):
            cup = await seed_started(connection, players=4)
            await runtime.publisher.publish(
                ADVANCE, AdvanceRound(tournament_id=cup.tournament_id, round=0)
            )
            cups.append(cup)
    await running.done(ADVANCE.name, len(cups))
    rounds = [await _round(runtime.pool, cup.tournament_id, 1) for cup in cups]
    # In each tournament one match is past its deadline and the other gets its result
    # while expire_matches runs: whichever commits last must see the round settled.
    await runtime.pool.execute(
        "UPDATE tournaments.matches SET deadline = now() WHERE id = ANY($1::uuid[])",
        [matches[0]["id"] for matches in rounds],
    )
    expiry = JobContext(runtime, EXPIRE_MATCHES, Envelope(job_type="RunPeriodic"))
    await asyncio.gather(
        jobs.expire_matches(RunPeriodic(job="expire_matches"), expiry),
        *(
            decisions.record_result(
                runtime, cup.tournament_id, m[1]["id"], m[1]["player1_id"], Caller("organiser")
            )
            for cup, m in zip(cups, rounds, strict=True)
        ),
    )

    async def all_advanced() -> bool:
        advanced = await runtime.pool.fetchval(
            """
            SELECT count(*) FROM tournaments.tournaments
            WHERE id = ANY($1::uuid[]) AND status = 'finished'
            """,
            [cup.tournament_id for cup in cups],
        )
        return bool(advanced == len(cups))

    # One player left standing in each (the other match expired with nobody): champion.
    await eventually_async(all_advanced, timeout=30)
    champions = await runtime.pool.fetch(
        "SELECT champion_id FROM tournaments.tournaments WHERE id = ANY($1::uuid[])",
        [cup.tournament_id for cup in cups],
    )
    assert {row["champion_id"] for row in champions} == {m[1]["player1_id"] for m in rounds}
