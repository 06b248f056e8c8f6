"""Tournaments figures: periodic job durations at 1,000 tournaments / 10,000 matches,
e-mail throughput to a local SMTP sink, and 1,000 tournaments of 16 players played to the
end with results posted at 200/s (bench/tournaments_play.py).

    .venv/bin/python -m bench.tournaments_bench [--emails 500] [--only periodic,emails,play]
        [--tournaments 1000 --players 16 --rate 200 --workers 2]

Uses the local RabbitMQ / Postgres / Redis (RABBITMQ_URL, DATABASE_URL, REDIS_URL), in
fresh vhosts and fresh databases that are dropped afterwards. Each periodic job is timed
by calling its handler (its SQL and the jobs it stages in the runtime's outbox), then the
publishing of those jobs as a tournaments worker's outbox relay does it right after the
commit (with confirms), then run again to show the cost of an idempotent re-run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from common.consumer import JobContext, Worker
from common.envelope import Envelope
from common.outbox import OutboxRelay
from common.runtime import Runtime
from common.topology import all_queues
from tournaments import jobs
from tournaments.contracts import EMAIL, PERIODIC_QUEUES, RunPeriodic, SendEmail
from tournaments.settings import TournamentSettings

from bench.tournaments_play import play
from tests.fakes.tournaments_smtp import SmtpSink
from tests.support.services import ServiceUrls, fresh_database, resolve_services

HANDLERS = {
    "check_full": jobs.check_full,
    "auto_start": jobs.auto_start,
    "expire_matches": jobs.expire_matches,
    "warn_deadlines": jobs.warn_deadlines,
}

# 1,000 tournaments: 500 started with 20 pending first-round matches each (10,000
# matches, deadlines spread over the next day and the last two hours), 300 full waiting
# for auto_start (16 players each), 100 open but filled (for check_full), 100 open past
# starts_at.
SEED = """
INSERT INTO tournaments.tournaments
    (id, owner_id, name, capacity, status, starts_at, match_deadline_minutes, player_count,
     round)
SELECT gen_random_uuid(), 'bench', 'T' || n,
       CASE WHEN n <= 500 THEN 40 WHEN n <= 900 THEN 16 ELSE 8 END,
       CASE WHEN n <= 500 THEN 'started' WHEN n <= 800 THEN 'full' ELSE 'open' END,
       CASE WHEN n > 900 THEN now() - interval '1 minute' END,
       1440,
       CASE WHEN n <= 500 THEN 40 WHEN n <= 900 THEN 16 ELSE 5 END,
       CASE WHEN n <= 500 THEN 1 ELSE 0 END
FROM generate_series(1, 1000) AS n;

INSERT INTO tournaments.players (id, tournament_id, user_id, name, email, joined_at)
SELECT gen_random_uuid(), t.id, 'u-' || t.name || '-' || s, 'P' || s,
       'p' || s || '-' || t.name || '@bench.test', now() + s * interval '1 ms'
FROM tournaments.tournaments t, generate_series(1, t.player_count) AS s;

WITH seated AS (
    SELECT p.id, p.tournament_id,
           row_number() OVER (PARTITION BY p.tournament_id ORDER BY p.joined_at) - 1 AS seat
    FROM tournaments.players p JOIN tournaments.tournaments t ON t.id = p.tournament_id
    WHERE t.status = 'started'
), paired AS (
    SELECT tournament_id, seat / 2 AS position, array_agg(id ORDER BY seat) AS pair
    FROM seated GROUP BY tournament_id, seat / 2
)
INSERT INTO tournaments.matches (tournament_id, round, position, player1_id, player2_id, deadline)
SELECT tournament_id, 1, position, pair[1], pair[2],
       now() - interval '2 hours' + random() * interval '24 hours'
FROM paired;
ANALYZE;
"""


async def _timed(runtime: Runtime, name: str) -> tuple[float, float]:
    """The job's run (its SQL and staged jobs), then the relay's publishing of those jobs
    (what a worker's outbox relay does right after the commit)."""
    queue = PERIODIC_QUEUES[name]
    context = JobContext(runtime, queue, Envelope(job_type="RunPeriodic"))
    relay = OutboxRelay(runtime.pool, runtime.publisher, runtime.settings.database_url, 5)
    started = time.perf_counter()
    await HANDLERS[name](RunPeriodic(job=name), context)
    ran = time.perf_counter()
    _, refused = await relay.publish_pending()
    assert refused is None, refused
    return ran - started, time.perf_counter() - ran


async def periodic(runtime: Runtime) -> None:
    async with runtime.pool.acquire() as connection:
        await connection.execute(SEED)
        counts = await connection.fetchrow(
            """
            SELECT (SELECT count(*) FROM tournaments.tournaments) AS tournaments,
                   (SELECT count(*) FROM tournaments.players) AS players,
                   (SELECT count(*) FROM tournaments.matches) AS matches
            """
        )
    assert counts is not None
    print(
        f"seeded: {counts['tournaments']} tournaments, {counts['players']} players, "
        f"{counts['matches']} matches"
    )
    print(
        f"{'job':<16}{'1st run (s)':>12}{'relay (s)':>12}{'2nd run (s)':>12}"
        "  effect of the 1st run (relay: publishing the jobs it staged)"
    )
    for name in ("check_full", "auto_start", "expire_matches", "warn_deadlines"):
        before = await _effects(runtime)
        first, publishing = await _timed(runtime, name)
        after = await _effects(runtime)
        second, _ = await _timed(runtime, name)
        change = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        print(f"{name:<16}{first:>12.3f}{publishing:>12.3f}{second:>12.3f}  {change}")


async def _effects(runtime: Runtime) -> dict[str, int]:
    row = await runtime.pool.fetchrow(
        """
        SELECT (SELECT count(*) FROM tournaments.tournaments WHERE status = 'full') AS full,
               (SELECT count(*) FROM tournaments.tournaments WHERE status = 'started') AS started,
               (SELECT count(*) FROM tournaments.matches) AS matches,
               (SELECT count(*) FROM tournaments.matches WHERE status = 'expired') AS expired,
               (SELECT count(*) FROM tournaments.deadline_warnings) AS warnings,
               (SELECT count(*) FROM runtime.outbox) AS unpublished
        """
    )
    assert row is not None
    return {**dict(row), "published": await _queued(runtime)}


async def _queued(runtime: Runtime) -> int:
    """Messages in the vhost's work queues: what was published (nothing consumes them in
    this part). Passive declares, exact where the management API's counts lag."""
    total = 0
    async with runtime.publisher.channel() as channel:
        for queue in all_queues():
            declared = await channel.declare_queue(queue.name, passive=True)
            total += declared.declaration_result.message_count or 0
    return total


async def email_throughput(runtime: Runtime, count: int) -> None:
    # The warnings above queued e-mails of their own; start from an empty queue.
    vhost = quote(runtime.settings.vhost, safe="")
    async with httpx.AsyncClient(timeout=30) as management:
        purge = f"{runtime.settings.management_url}/api/queues/{vhost}/{EMAIL.name}/contents"
        (await management.delete(purge)).raise_for_status()
    sink = SmtpSink().start()
    settings = TournamentSettings(
        **{**runtime.settings.model_dump(), "smtp_host": "127.0.0.1", "smtp_port": sink.port}
    )
    worker_runtime = Runtime(
        settings=settings,
        service="bench",
        pool=runtime.pool,
        redis=runtime.redis,
        publisher=runtime.publisher,
        limiter=runtime.limiter,
        failed_jobs=runtime.failed_jobs,
    )
    worker = Worker(worker_runtime, jobs.router, concurrency=20)
    await worker.start()
    try:
        await asyncio.gather(
            *(
                runtime.publisher.publish(
                    EMAIL,
                    SendEmail(id=uuid.uuid4(), to=f"r{n}@bench.test", subject="Bench", body="Hi"),
                )
                for n in range(count)
            )
        )
        started = time.perf_counter()
        while len(sink.snapshot()) < count:
            if time.perf_counter() - started > 300:
                raise RuntimeError(f"only {len(sink.snapshot())} of {count} e-mails arrived")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        await worker.stop(5)
        sink.stop()
    print(
        f"e-mail: {count} jobs -> local aiosmtpd sink in {elapsed:.2f}s = "
        f"{count / elapsed:.0f} e-mails/s (one worker, prefetch 20, pace not limiting)"
    )


@contextlib.contextmanager
def fresh_vhost(services: ServiceUrls) -> Iterator[str]:
    """A new vhost for the run (creating one can take a while on a busy broker)."""
    name = f"bench-tournaments-{uuid.uuid4().hex[:8]}"
    api = f"{services.management}/api"
    user = urlsplit(services.rabbitmq).username or "guest"
    with httpx.Client(timeout=120) as client:
        client.put(f"{api}/vhosts/{name}").raise_for_status()
        client.put(
            f"{api}/permissions/{name}/{user}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        ).raise_for_status()
        try:
            base = urlsplit(services.rabbitmq)
            yield urlunsplit(base._replace(path="/" + quote(name, safe="")))
        finally:
            client.delete(f"{api}/vhosts/{name}")


async def main(emails: int, only: set[str]) -> None:
    services = resolve_services()
    if isinstance(services, str):
        raise SystemExit(services)
    assert isinstance(services, ServiceUrls)
    with fresh_vhost(services) as amqp_url, fresh_database(services) as database_url:
        values: dict[str, Any] = {
            "rabbitmq_url": amqp_url,
            "rabbitmq_management_url": services.management,
            "database_url": database_url,
            "redis_url": services.redis,
            "redis_key_prefix": f"bench:{uuid.uuid4().hex[:8]}:",
            "email_rate_per_minute": 1_000_000,
            "deadline_warning": 3600,
            "log_level": os.environ.get("LOG_LEVEL", "WARNING"),
        }
        runtime = await Runtime.start(TournamentSettings(**values), "bench")
        try:
            if "periodic" in only:
                await periodic(runtime)
            if "emails" in only:
                await email_throughput(runtime, emails)
        finally:
            await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--only", default="periodic,emails,play")
    parser.add_argument("--tournaments", type=int, default=1000)
    parser.add_argument("--players", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    if chosen & {"periodic", "emails"}:
        asyncio.run(main(args.emails, chosen))
    if "play" in chosen:
        play(args.tournaments, args.players, args.rate, args.workers)
