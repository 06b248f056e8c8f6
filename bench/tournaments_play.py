"""Tournaments played to the end: 1,000 tournaments of 16 players, results posted at 200/s.

Runs the Procfile's gateway, tournaments workers and scheduler (both periods 5 s) in a
fresh vhost and database. The tournaments are seeded full; the scheduler's auto_start
starts them, tournaments.advance creates each round, and this process posts a result
for every pending match over HTTP, open loop at the given rate, earliest deadline first.
A tenth of the tournaments have 1-minute deadlines and one first-round match nobody
reports, so expire_matches and warn_deadlines have real work while the others play.

Measured: the wall time to the last champion, the result POST latency, the advance jobs
and every scheduler job run (durations as the workers logged them), the time from the
last result of a round to the next round's matches, what was queued for the players, and
how long the follow-ups waited in the runtime's outbox (read off every notification by a
consumer: from its staging in the committing transaction to its publish).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import httpx
import pika
from common.envelope import ENQUEUED_AT, STAGED_AT

from bench.load import open_loop
from tests.fakes.tournaments_smtp import SmtpSink
from tests.fakes.tournaments_support import log_lines, start
from tests.support import (
    USER_KEY,
    Stack,
    eventually_async,
    fresh_database,
    fresh_vhost,
    resolve_services,
)

PERIODIC = ("check_full", "auto_start", "expire_matches", "warn_deadlines")
SCHEDULER_PERIOD = 5

SEED = """
INSERT INTO tournaments.tournaments
    (id, owner_id, name, capacity, status, match_deadline_minutes, player_count)
SELECT gen_random_uuid(), 'user-1', 'Play ' || n, $2, 'full',
       CASE WHEN n % 10 = 0 THEN 1 ELSE 1440 END, $2
FROM generate_series(1, $1) AS n;

INSERT INTO tournaments.players (id, tournament_id, user_id, name, email, joined_at)
SELECT gen_random_uuid(), t.id, 'player-' || t.name || '-' || s, 'P' || s,
       'p' || s || '-' || replace(t.name, ' ', '') || '@bench.test', now() + s * interval '1 ms'
FROM tournaments.tournaments t, generate_series(1, t.player_count) AS s;
ANALYZE;
"""


@dataclass
class Posting:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


@contextlib.contextmanager
def play_stack(workers: int, sink: SmtpSink) -> Iterator[Stack]:
    services = resolve_services()
    if isinstance(services, str):
        raise SystemExit(f"services unavailable: {services}")
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        stack = Stack(
            {
                "RABBITMQ_URL": vhost,
                "RABBITMQ_MANAGEMENT_URL": services.management,
                "DATABASE_URL": database,
                "REDIS_URL": services.redis,
                "REDIS_KEY_PREFIX": f"bench:play:{time.time_ns()}:",
                "LOG_FORMAT": "json",
                "LOG_LEVEL": "INFO",
                "API_RATE_PER_MINUTE": 0,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": sink.port,
                "TOURNAMENTS_EVERY": SCHEDULER_PERIOD,
                "DEADLINES_EVERY": SCHEDULER_PERIOD,
            },
            name="bench_tournaments_play",
        )
        try:
            start(stack, "gateway")
            for replica in range(1, workers + 1):
                start(stack, "tournaments", replica=replica)
            stack.wait_ready(120)
            stack.wait_consuming("tournaments.advance", consumers=workers, timeout=120)
            yield stack
        finally:
            stack.stop()


async def _seed(database: str, tournaments: int, players: int) -> None:
    connection = await asyncpg.connect(database)
    try:
        # Two statements with parameters: run them one by one.
        first, second = SEED.split(";\n\n", 1)
        await connection.execute(first, tournaments, players)
        await connection.execute(second)
    finally:
        await connection.close()


async def _post_results(stack: Stack, pool: asyncpg.Pool, rate: float, posting: Posting) -> float:
    """Post a result for every pending match, batch after batch, until every tournament is
    finished; returns the wall time. A batch is every match pending at that moment (all
    of a batch's answers are in before the next is read, so nothing is posted twice)."""
    started = time.perf_counter()
    async with aiohttp.ClientSession(
        base_url=stack.url,
        headers={"Authorization": f"Bearer {USER_KEY}"},
        timeout=aiohttp.ClientTimeout(total=30),
        connector=aiohttp.TCPConnector(limit=200),
    ) as client:
        while True:
            batch = await pool.fetch(PENDING)
            if not batch:
                if await pool.fetchval(LEFT) == 0:
                    return time.perf_counter() - started

                async def more() -> bool:
                    return bool(await pool.fetchval(PENDING_OR_DONE))

                # The advance jobs are creating the next rounds (or a deadline is due).
                await eventually_async(more, timeout=600, interval=0.1)
                continue

            async def one(n: int, batch: list[asyncpg.Record] = batch) -> None:
                match = batch[n]
                sent = time.perf_counter()
                async with client.post(
                    f"/v1/tournaments/{match['tournament_id']}/matches/{match['id']}/result",
                    json={"winner": str(match["player1_id"])},
                ) as answer:
                    await answer.read()
                posting.latencies.append(time.perf_counter() - sent)
                posting.statuses[answer.status] += 1

            await open_loop(rate, len(batch), one)


# Every pending match but the one first-round match nobody reports in the tournaments
# with 1-minute deadlines (it expires), earliest deadline first.
PENDING = """
SELECT m.id, m.tournament_id, m.player1_id FROM tournaments.matches m
JOIN tournaments.tournaments t ON t.id = m.tournament_id
WHERE m.status = 'pending'
  AND NOT (t.match_deadline_minutes = 1 AND m.round = 1 AND m.position = 0)
ORDER BY m.deadline
LIMIT 1000
"""
LEFT = "SELECT count(*) FROM tournaments.tournaments WHERE status <> 'finished'"
PENDING_OR_DONE = f"SELECT EXISTS ({PENDING}) OR NOT EXISTS ({LEFT.replace('count(*)', '1')})"


# From the last result of round r - 1 to the first match of round r, per tournament.
TURNAROUND = """
SELECT extract(epoch FROM next.created - settled.at) AS seconds
FROM (
    SELECT tournament_id, round, max(decided_at) AS at FROM tournaments.matches
    GROUP BY tournament_id, round
) settled
JOIN (
    SELECT tournament_id, round, min(created_at) AS created FROM tournaments.matches
    GROUP BY tournament_id, round
) next ON next.tournament_id = settled.tournament_id AND next.round = settled.round + 1
"""

OUTCOME = """
SELECT (SELECT count(*) FROM tournaments.tournaments WHERE status = 'finished') AS finished,
       (SELECT count(*) FROM tournaments.tournaments WHERE champion_id IS NOT NULL) AS champions,
       (SELECT count(*) FROM tournaments.matches WHERE status = 'done' AND player2_id IS NOT NULL)
           AS played,
       (SELECT count(*) FROM tournaments.matches WHERE player2_id IS NULL) AS byes,
       (SELECT count(*) FROM tournaments.matches WHERE status = 'expired') AS expired,
       (SELECT count(*) FROM tournaments.deadline_warnings) AS warnings,
       (SELECT count(*) FROM runtime.outbox) AS unpublished
"""


def _outbox_lags(stack: Stack, queues: tuple[str, ...]) -> list[float]:
    """Seconds each follow-up waited in the outbox, read by a consumer of `queues` (which
    nothing else consumes here): from its staging, in the transaction that committed it
    (x-staged-at), to the start of its publish (x-enqueued-at). Takes the messages."""
    connection = pika.BlockingConnection(pika.URLParameters(stack.env["RABBITMQ_URL"]))
    lags: list[float] = []
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=5000)
        for queue in queues:
            for method, properties, _ in channel.consume(
                queue, auto_ack=True, inactivity_timeout=2
            ):
                if method is None:
                    break
                headers = properties.headers or {}
                if STAGED_AT in headers and ENQUEUED_AT in headers:
                    lags.append((int(headers[ENQUEUED_AT]) - int(headers[STAGED_AT])) / 1000)
            channel.cancel()
    finally:
        connection.close()
    return lags


def _quantiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


def _job_durations(stack: Stack, workers: int, queue: str) -> tuple[list[float], Counter[str]]:
    durations: list[float] = []
    outcomes: Counter[str] = Counter()
    for replica in range(1, workers + 1):
        for entry in log_lines(stack, f"tournaments.{replica}"):
            if entry.get("queue") == queue and "duration_ms" in entry:
                durations.append(float(entry["duration_ms"]) / 1000)
                outcomes[str(entry.get("outcome"))] += 1
    return durations, outcomes


def _queue_depths(stack: Stack, names: tuple[str, ...]) -> dict[str, int]:
    management = stack.env["RABBITMQ_MANAGEMENT_URL"]
    vhost = stack.env["RABBITMQ_URL"].rsplit("/", 1)[1]
    depths = {}
    for name in names:
        answer = httpx.get(f"{management}/api/queues/{vhost}/{name}", timeout=10)
        depths[name] = int(answer.json().get("messages", 0)) if answer.status_code == 200 else -1
    return depths


async def _play(
    stack: Stack, tournaments: int, players: int, rate: float
) -> tuple[float, Posting, dict[str, Any], list[float]]:
    database = stack.env["DATABASE_URL"]
    await _seed(database, tournaments, players)
    pool = await asyncpg.create_pool(database, min_size=1, max_size=4)
    try:
        start(stack, "scheduler")  # its auto_start starts them all at its next slot
        posting = Posting()
        wall = await _post_results(stack, pool, rate, posting)
        outcome = dict(await pool.fetchrow(OUTCOME))
        turnaround = [float(r["seconds"]) for r in await pool.fetch(TURNAROUND)]
    finally:
        await pool.close()
    return wall, posting, outcome, turnaround


def play(tournaments: int, players: int, rate: float, workers: int) -> None:
    sink = SmtpSink().start()
    try:
        with play_stack(workers, sink) as stack:
            wall, posting, outcome, turnaround = asyncio.run(
                _play(stack, tournaments, players, rate)
            )
            stack.terminate("scheduler")
            # What the players are still to receive: nothing consumes the notification
            # queues here, and e-mails go at EMAIL_RATE_PER_MINUTE (60) as in production.
            depths = _queue_depths(
                stack, ("notifications.normal", "notifications.high", "tournaments.email")
            )
            lags = _outbox_lags(stack, ("notifications.normal", "notifications.high"))
            advance, advance_outcomes = _job_durations(stack, workers, "tournaments.advance")
            periodic = {
                job: _job_durations(stack, workers, f"tournaments.{job}") for job in PERIODIC
            }
    finally:
        sink.stop()

    print(
        f"played: {tournaments} tournaments of {players} players, {tournaments // 10} of them "
        f"with 1-minute deadlines and one unreported first-round match; {workers} tournaments "
        f"workers, scheduler every {SCHEDULER_PERIOD} s",
        flush=True,
    )
    print(
        f"  to the last champion: {wall:.1f} s from seeding; finished {outcome['finished']}, "
        f"with a champion {outcome['champions']}; matches played {outcome['played']}, "
        f"byes {outcome['byes']}, expired {outcome['expired']}; deadline warnings "
        f"{outcome['warnings']}"
    )
    print(
        f"  results: {sum(posting.statuses.values())} posted at {rate:g}/s (open loop), "
        f"answers {dict(posting.statuses)}; latency {_quantiles(posting.latencies)}"
    )
    print(
        f"  tournaments.advance: {len(advance)} jobs {dict(advance_outcomes)}, "
        f"{_quantiles(advance)}; last result of a round -> next round's matches: "
        f"{_quantiles(turnaround)}"
    )
    slowest = 0.0
    for job, (durations, outcomes) in periodic.items():
        slowest = max([slowest, *durations])
        print(
            f"  scheduler job {job:<15} {len(durations):>3} runs {dict(outcomes)}, {_quantiles(durations)}"
        )
    print(
        f"  every scheduler job under 2 s: {'yes' if slowest < 2 else 'NO'} "
        f"(slowest {slowest:.2f} s)"
    )
    print(
        f"  follow-ups through the runtime's outbox (unpublished left: "
        f"{outcome['unpublished']}); staged -> published, read by a consumer of the "
        f"{len(lags)} notifications: {_quantiles(lags)}; still queued at the end: {depths}; "
        f"e-mails delivered to the local sink meanwhile: {len(sink.snapshot())}",
        flush=True,
    )
