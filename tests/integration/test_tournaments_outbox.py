"""Tournament follow-ups through the runtime's outbox, against real RabbitMQ and Postgres:
none lost when no relay publishes them after the commit (the sweepers do), each
published once when the relays and sweepers of several replicas race, and the previous
release's `tournaments.outbox` rows adopted once, with their own ids."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from common.consumer import JobContext
from common.envelope import Envelope
from common.outbox import OutboxRelay
from common.runtime import Runtime
from tournaments import domain, jobs, legacy_outbox
from tournaments.contracts import (
    ADVANCE,
    EMAIL,
    EXPIRE_MATCHES,
    AdvanceRound,
    RunPeriodic,
    advance_message_id,
)
from tournaments.settings import TournamentSettings

from tests.fakes.tournaments_support import Drained, drain, seed_match
from tests.support import eventually_async

# Where the follow-ups of an expiry go (nothing consumes them in these tests).
FOLLOW_UP_QUEUES = ("notifications.normal", EMAIL.name, ADVANCE.name)


@pytest.fixture
async def replicas(env: dict[str, Any]) -> AsyncIterator[Callable[..., Any]]:
    """Start runtimes as the tournaments worker builds them: one per replica."""
    started: list[Runtime] = []

    async def start(**overrides: Any) -> Runtime:
        values: dict[str, Any] = {key.lower(): value for key, value in env.items()}
        values.update(overrides)
        runtime = await Runtime.start(TournamentSettings(**values), "tournaments-test")
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        await runtime.close()


# Each overdue match: both players told by notification and e-mail (the seeded
# tournaments are at round 0, so no advance follows).
FOLLOW_UPS_PER_MATCH = 4


async def _expire_overdue_matches(runtime: Runtime, matches: int) -> None:
    """Seed `matches` overdue matches and run expire_matches on `runtime`."""
    async with runtime.pool.acquire() as connection:
        for _ in range(matches):
            await seed_match(connection, deadline_in_seconds=-60)
    context = JobContext(runtime, EXPIRE_MATCHES, Envelope(job_type="RunPeriodic"))
    await jobs.expire_matches(RunPeriodic(job="expire_matches"), context)


def _published(env: dict[str, Any]) -> list[Drained]:
    """Every follow-up on its queue, each checked to carry its deterministic id (what
    consumers deduplicate by) as its message id."""
    published = [m for queue in FOLLOW_UP_QUEUES for m in drain(env["RABBITMQ_URL"], queue)]
    for message in published:
        if message.type == "AdvanceRound":
            round_ = AdvanceRound.model_validate(message.body)
            expected = advance_message_id(round_.tournament_id, round_.round)
        else:
            expected = uuid.UUID(message.body["id"])
        assert message.message_id == str(expected)
    return published


async def _outbox_empty(runtime: Runtime) -> bool:
    return bool(await runtime.pool.fetchval("SELECT count(*) FROM runtime.outbox") == 0)


def _relay(runtime: Runtime) -> OutboxRelay:
    """The outbox relay a tournaments worker runs, on `runtime`."""
    return OutboxRelay(runtime.pool, runtime.publisher, runtime.settings.database_url, 1)


async def test_follow_ups_left_by_a_crash_between_commit_and_publish_are_swept_once(
    replicas: Any, env: dict[str, Any]
) -> None:
    crashed: Runtime = await replicas()
    # Committed while no relay runs (every tournaments worker died right after).
    await _expire_overdue_matches(crashed, matches=60)
    rows = await crashed.pool.fetch("SELECT message_id FROM runtime.outbox")
    staged = {row["message_id"] for row in rows}
    assert len(rows) == len(staged) == 60 * FOLLOW_UPS_PER_MATCH
    assert _published(env) == []  # committed, not published

    # Three replicas' sweepers take the entries at once (SKIP LOCKED splits them).
    sweepers = [await replicas() for _ in range(3)]
    swept = await asyncio.gather(*(r.outbox.sweep(older_than=0) for r in sweepers))
    assert sum(swept) == len(staged)
    assert await _outbox_empty(crashed)

    published = Counter(m.message_id for m in _published(env))
    assert published == Counter(dict.fromkeys(staged, 1))


async def test_follow_ups_relayed_while_sweepers_race_are_published_once_each(
    replicas: Any, env: dict[str, Any]
) -> None:
    writer: Runtime = await replicas()
    sweepers = [await replicas() for _ in range(2)]
    relays = [_relay(await replicas()) for _ in range(2)]
    racing = True

    async def sweep_without_pause(runtime: Runtime) -> None:
        # Entries of any age: each sweep competes with the relays.
        while racing:
            await runtime.outbox.sweep(older_than=0)

    tasks = [asyncio.create_task(sweep_without_pause(r)) for r in sweepers]
    for relay in relays:
        relay.start()
    try:
        for _ in range(5):
            await _expire_overdue_matches(writer, matches=40)
        await eventually_async(lambda: _outbox_empty(writer), timeout=30)
    finally:
        racing = False
        await asyncio.gather(*tasks)
        for relay in relays:
            await relay.stop()

    published = Counter(m.message_id for m in _published(env))
    assert len(published) == 5 * 40 * FOLLOW_UPS_PER_MATCH
    assert set(published.values()) == {1}, "an entry was published twice"


def _old_row(follow_up: domain.FollowUp, age: dt.timedelta, published: bool) -> tuple[Any, ...]:
    """A `tournaments.outbox` row exactly as the previous release's `outbox.add` wrote it."""
    now = dt.datetime.now(dt.UTC)
    return (
        follow_up.id,
        follow_up.queue.name,
        follow_up.job_type,
        follow_up.job.model_dump_json(),
        now - age,
        now if published else None,
    )


async def test_previous_release_rows_left_unpublished_are_adopted_once_with_their_ids(
    replicas: Any, env: dict[str, Any]
) -> None:
    first: Runtime = await replicas()
    second: Runtime = await replicas()
    tournament = domain.Tournament(uuid.uuid4(), "Legacy Cup")
    player = domain.Player(uuid.uuid4(), "user-legacy", "Ada", "ada@example.test")
    left = [
        *domain.bye(tournament, 1, uuid.uuid4(), player),
        domain.advance_round(tournament.id, 1),
    ]
    done = domain.advance_round(uuid.uuid4(), 2)
    fresh = domain.advance_round(uuid.uuid4(), 3)
    await first.pool.executemany(
        """
        INSERT INTO tournaments.outbox (id, queue, job_type, payload, created_at, published_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        [
            *(_old_row(f, dt.timedelta(minutes=2), published=False) for f in left),
            _old_row(done, dt.timedelta(minutes=2), published=True),  # its relay published it
            _old_row(fresh, dt.timedelta(0), published=False),  # an old relay is on it
        ],
    )

    # Two new workers start at once: the rows are split between them, none taken twice.
    adopted = await asyncio.gather(*(legacy_outbox.adopt_leftovers(r) for r in (first, second)))
    assert sum(adopted) == len(left)
    assert await legacy_outbox.adopt_leftovers(first) == 0  # a later run finds nothing new
    # Their relays publish what they staged.
    relayed = await asyncio.gather(*(_relay(r).publish_pending() for r in (first, second)))
    assert sum(count for count, _ in relayed) == len(left)
    assert await _outbox_empty(first)

    published = _published(env)
    assert sorted(m.message_id or "" for m in published) == sorted(str(f.id) for f in left)
    for message in published:
        [follow_up] = [f for f in left if str(f.id) == message.message_id]
        assert message.type == follow_up.job_type
        assert type(follow_up.job).model_validate(message.body) == follow_up.job
    unpublished = await first.pool.fetch(
        "SELECT id FROM tournaments.outbox WHERE published_at IS NULL"
    )
    assert [row["id"] for row in unpublished] == [fresh.id]
