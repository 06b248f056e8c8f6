"""The outbox: follow-up jobs committed with their cause, published after commit.

A state change (a match decided, a round created, a deadline passed) writes the jobs it
causes into `tournaments.outbox` in its own transaction, with a NOTIFY that Postgres
delivers on commit. The relay every tournaments worker runs (relay.py), woken by the
NOTIFY, publishes them with confirms and marks them. A crash between commit and publish
leaves rows unpublished; the relay's next sweep takes them. A crash between publish and
marking them published sends them again with the same message ids, which the consumers
absorb (notification ids, the e-mail idempotency record, the advance job's round check).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from common import topology
from common.envelope import Envelope
from common.publisher import Publisher
from common.runtime import Runtime
from common.telemetry import tracing

from .domain import FollowUp

BATCH = 2000
# The channel the relay LISTENs on; one NOTIFY per transaction that wrote rows.
CHANNEL = "tournaments_outbox"


async def add(connection: asyncpg.Connection, follow_ups: Sequence[FollowUp]) -> None:
    """Write follow-up jobs in the caller's transaction and wake the relays on commit
    (one statement for all of them)."""
    if not follow_ups:
        return
    await connection.execute(
        """
        WITH added AS (
            INSERT INTO tournaments.outbox (id, queue, job_type, payload)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
            ON CONFLICT (id) DO NOTHING
            RETURNING 1
        )
        SELECT pg_notify($5, '')
        """,
        [f.id for f in follow_ups],
        [f.queue.name for f in follow_ups],
        [f.job_type for f in follow_ups],
        [f.job.model_dump_json() for f in follow_ups],
        CHANNEL,
    )


@dataclass(frozen=True)
class Entry:
    id: uuid.UUID
    queue: str
    job_type: str
    payload: str


async def _lock_unpublished(connection: asyncpg.Connection, limit: int) -> list[Entry]:
    """The oldest unpublished rows, locked for this transaction (SKIP LOCKED: no two
    publishers take the same rows at once)."""
    rows = await connection.fetch(
        """
        SELECT id, queue, job_type, payload FROM tournaments.outbox
        WHERE published_at IS NULL
        ORDER BY created_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return [Entry(r["id"], r["queue"], r["job_type"], r["payload"]) for r in rows]


async def _publish_one(publisher: Publisher, entry: Entry) -> None:
    queue = topology.queue(entry.queue)
    envelope = Envelope(message_id=str(entry.id), job_type=entry.job_type)
    tracing.inject(envelope.headers)
    await publisher.publish_body(
        queue.exchange, queue.routing_key, entry.payload.encode(), envelope.properties()
    )


async def _publish_batch(runtime: Runtime) -> int:
    """Publish one locked batch and mark it; a failed publish rolls the marks back."""
    async with runtime.pool.acquire() as connection, connection.transaction():
        entries = await _lock_unpublished(connection, BATCH)
        if entries:
            await asyncio.gather(*(_publish_one(runtime.publisher, e) for e in entries))
            await connection.execute(
                # clock_timestamp(): when the confirms were in, not when the batch began.
                """
                UPDATE tournaments.outbox SET published_at = clock_timestamp()
                WHERE id = ANY($1::uuid[])
                """,
                [e.id for e in entries],
            )
    return len(entries)


async def publish_pending(runtime: Runtime) -> int:
    """Publish every unpublished row (confirmed), batch by batch; returns how many."""
    total = 0
    while True:
        published = await _publish_batch(runtime)
        total += published
        if published < BATCH:
            return total


async def prune(connection: asyncpg.Connection, keep_seconds: float = 86_400) -> None:
    """Forget rows published more than a day ago (their ids live on in the consumers).

    A scan of the table: the deadline jobs run it once per period, not every publish.
    """
    await connection.execute(
        """
        DELETE FROM tournaments.outbox
        WHERE published_at < now() - make_interval(secs => $1)
        """,
        keep_seconds,
    )
