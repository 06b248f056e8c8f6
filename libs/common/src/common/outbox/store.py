"""SQL of `runtime.outbox`: the only code that reads or writes the table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg

from ..safe_text import jsonable
from .entries import OutboxEntry, entry_from_row

# The channel relays LISTEN on; one NOTIFY per transaction that staged relayed entries,
# which Postgres delivers on commit (and drops on rollback).
RELAY_CHANNEL = "relay_outbox"


async def insert_entries(
    connection: asyncpg.Connection, entries: Sequence[OutboxEntry], *, by_relay: bool = False
) -> None:
    """Stage `entries` in `connection`'s transaction (one statement for all of them);
    `by_relay` entries wake the relays when the transaction commits."""
    await connection.execute(
        """
        WITH staged AS (
            INSERT INTO runtime.outbox (id, exchange, routing_key, message_id, job_type,
                                        correlation_id, headers, body, by_relay)
            SELECT *, $9::boolean FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                                     $5::text[], $6::text[], $7::jsonb[], $8::bytea[])
            RETURNING 1
        )
        SELECT pg_notify($10, '') WHERE $9::boolean
        """,
        [e.id for e in entries],
        [e.exchange for e in entries],
        [e.routing_key for e in entries],
        [e.envelope.message_id for e in entries],
        [e.envelope.job_type for e in entries],
        [e.envelope.correlation_id for e in entries],
        [json.dumps(jsonable(e.envelope.headers)) for e in entries],
        [e.body for e in entries],
        by_relay,
        RELAY_CHANNEL,
    )


async def delete_entries(
    connection: asyncpg.Connection | asyncpg.Pool, ids: Sequence[uuid.UUID]
) -> int:
    """Forget the entries `ids` (published, or withdrawn); returns how many were there."""
    status = await connection.execute(
        "DELETE FROM runtime.outbox WHERE id = ANY($1::uuid[])", list(ids)
    )
    return int(status.split()[-1])


async def lock_entries(connection: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` still staged and not being published by anyone else, locked for
    this transaction (SKIP LOCKED: an entry another publisher holds is left to it)."""
    rows = await connection.fetch(
        "SELECT id FROM runtime.outbox WHERE id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED",
        list(ids),
    )
    return {row["id"] for row in rows}


async def lock_stale_entries(
    connection: asyncpg.Connection, older_than: float, limit: int
) -> list[OutboxEntry]:
    """The oldest entries staged more than `older_than` seconds ago, locked for this
    transaction (SKIP LOCKED: replicas sweep different entries)."""
    rows = await connection.fetch(
        """
        SELECT * FROM runtime.outbox
        WHERE created_at < now() - make_interval(secs => $1)
        ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
        """,
        older_than,
        limit,
    )
    return [entry_from_row(row) for row in rows]


async def lock_relayed_entries(connection: asyncpg.Connection, limit: int) -> list[OutboxEntry]:
    """The oldest entries staged `by_relay`, whatever their age, locked for this
    transaction (SKIP LOCKED: relays and sweepers take different entries)."""
    rows = await connection.fetch(
        """
        SELECT * FROM runtime.outbox WHERE by_relay
        ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return [entry_from_row(row) for row in rows]


async def record_failed_publish(
    connection: asyncpg.Connection, ids: Sequence[uuid.UUID], error: str
) -> None:
    """Count an unconfirmed publish on `ids`, with its error (shown to operators)."""
    await connection.execute(
        """
        UPDATE runtime.outbox SET attempts = attempts + 1, last_error = $2
        WHERE id = ANY($1::uuid[])
        """,
        list(ids),
        error[:1000],
    )
