"""The outbox: jobs written with the rows that cause them, published after commit.

A write-then-publish path (an event stored then queued, a request's rows stored then
their job queued) must never be left half-done when the broker does not confirm. The
caller `stage`s its jobs in runtime.outbox inside its own transaction; after commit,
`send` publishes them (confirmed) and deletes them. When the publish is not confirmed
the caller either `withdraw`s them in the same transaction that deletes its own rows
(nothing happened, the client is told to retry), or leaves them: the sweeper publishes
every entry older than OUTBOX_SWEEP_AFTER seconds once the broker answers. A crash
between commit and publish leaves entries the sweeper publishes too. An entry may so be
published twice, always with the same message id, which idempotent consumers absorb.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from .envelope import Envelope, Job, job_type
from .errors import BrokerUnavailable
from .publisher import Publisher
from .safe_text import jsonable
from .telemetry import tracing
from .topology import Queue

log = logging.getLogger(__name__)

_SWEEP_BATCH = 500


@dataclass(frozen=True)
class OutboxEntry:
    """One staged job: where it goes, its bytes and its envelope."""

    id: uuid.UUID
    exchange: str
    routing_key: str
    body: bytes
    envelope: Envelope


class Outbox:
    """Stages jobs in the caller's transaction; sends, withdraws and sweeps them."""

    def __init__(self, pool: asyncpg.Pool, publisher: Publisher) -> None:
        self.pool = pool
        self.publisher = publisher

    async def stage(
        self,
        connection: asyncpg.Connection,
        jobs: Sequence[tuple[Queue, Job, Envelope]],
    ) -> list[OutboxEntry]:
        """Write `jobs` (queue, payload, envelope) in `connection`'s transaction."""
        entries = [_entry(queue, job, envelope) for queue, job, envelope in jobs]
        await connection.execute(
            """
            INSERT INTO runtime.outbox
                (id, exchange, routing_key, message_id, job_type, correlation_id, headers, body)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::jsonb[], $8::bytea[])
            """,
            [e.id for e in entries],
            [e.exchange for e in entries],
            [e.routing_key for e in entries],
            [e.envelope.message_id for e in entries],
            [e.envelope.job_type for e in entries],
            [e.envelope.correlation_id for e in entries],
            [json.dumps(jsonable(e.envelope.headers)) for e in entries],
            [e.body for e in entries],
        )
        return entries

    async def send(self, entries: Sequence[OutboxEntry]) -> None:
        """Publish `entries` (confirmed), then forget the confirmed ones.

        Raises BrokerUnavailable when any publish was not confirmed; those stay staged.
        """
        results = await asyncio.gather(
            *(self._publish(entry) for entry in entries), return_exceptions=True
        )
        confirmed = [e.id for e, r in zip(entries, results, strict=True) if r is None]
        if confirmed:
            await self.pool.execute(
                "DELETE FROM runtime.outbox WHERE id = ANY($1::uuid[])", confirmed
            )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def send_or_withdraw(
        self,
        entries: Sequence[OutboxEntry],
        undo: Callable[[asyncpg.Connection], Awaitable[None]],
    ) -> None:
        """`send`; when not confirmed, withdraw `entries` and run `undo` (delete the rows
        they belong to) in one transaction, then raise BrokerUnavailable: nothing happened
        and the client may retry. If the sweeper published them meanwhile, they are queued
        after all and this returns normally."""
        try:
            await self.send(entries)
        except BrokerUnavailable:
            async with self.pool.acquire() as connection, connection.transaction():
                withdrawn = await self.withdraw(connection, entries)
                if withdrawn:
                    await undo(connection)
            if withdrawn:
                raise

    async def withdraw(
        self, connection: asyncpg.Connection, entries: Sequence[OutboxEntry]
    ) -> bool:
        """Take back `entries` in `connection`'s transaction: True when none of them was
        published meanwhile (the sweeper takes an entry only once it is old), False when
        one was, so its rows must stay and the job counts as queued."""
        status = await connection.execute(
            "DELETE FROM runtime.outbox WHERE id = ANY($1::uuid[])", [e.id for e in entries]
        )
        return int(status.split()[-1]) == len(entries)

    async def sweep(self, older_than: float) -> int:
        """Publish entries staged more than `older_than` seconds ago; returns how many.

        A batch stays locked (SKIP LOCKED: replicas sweep different rows) until its
        confirmed entries are deleted; the sweep stops at the first unconfirmed publish.
        """
        swept = 0
        while True:
            async with self.pool.acquire() as connection, connection.transaction():
                rows = await connection.fetch(
                    """
                    SELECT * FROM runtime.outbox
                    WHERE created_at < now() - make_interval(secs => $1)
                    ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
                    """,
                    older_than,
                    _SWEEP_BATCH,
                )
                if not rows:
                    return swept
                entries = [_from_row(row) for row in rows]
                results = await asyncio.gather(
                    *(self._publish(entry) for entry in entries), return_exceptions=True
                )
                sent = [e.id for e, r in zip(entries, results, strict=True) if r is None]
                failed = [e.id for e, r in zip(entries, results, strict=True) if r is not None]
                await connection.execute(
                    "DELETE FROM runtime.outbox WHERE id = ANY($1::uuid[])", sent
                )
                if failed:
                    error = next(repr(r) for r in results if r is not None)
                    await connection.execute(
                        """
                        UPDATE runtime.outbox SET attempts = attempts + 1, last_error = $2
                        WHERE id = ANY($1::uuid[])
                        """,
                        failed,
                        error[:1000],
                    )
            swept += len(sent)
            if failed or len(rows) < _SWEEP_BATCH:
                return swept

    async def _publish(self, entry: OutboxEntry) -> None:
        await self.publisher.publish_body(
            entry.exchange, entry.routing_key, entry.body, entry.envelope.properties()
        )


def _entry(queue: Queue, job: Job, envelope: Envelope) -> OutboxEntry:
    if not envelope.job_type:
        envelope.job_type = job_type(type(job))
    tracing.inject(envelope.headers)
    # The headers as they will be published, so a sweep rebuilds the same message.
    headers = envelope.properties().headers or {}
    staged = Envelope(
        message_id=envelope.message_id,
        job_type=envelope.job_type,
        correlation_id=envelope.correlation_id,
        headers=dict(headers),
    )
    return OutboxEntry(
        uuid.uuid4(), queue.exchange, queue.routing_key, job.model_dump_json().encode(), staged
    )


def _from_row(row: asyncpg.Record) -> OutboxEntry:
    envelope = Envelope(
        message_id=row["message_id"],
        job_type=row["job_type"],
        correlation_id=row["correlation_id"],
        headers=json.loads(row["headers"]),
    )
    return OutboxEntry(row["id"], row["exchange"], row["routing_key"], bytes(row["body"]), envelope)


async def sweep_forever(outbox: Outbox, every: float, older_than: float) -> None:
    """Sweep `outbox` every `every` seconds, for as long as the task runs."""
    while True:
        await asyncio.sleep(every)
        try:
            swept = await outbox.sweep(older_than)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as trouble:
            log.warning("outbox not swept", extra={"error": repr(trouble)})
            continue
        if swept:
            log.info("outbox swept: jobs published late", extra={"published": swept})
