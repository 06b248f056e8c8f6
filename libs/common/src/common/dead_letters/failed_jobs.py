"""The failed-job store: Laravel's `failed_jobs`, with list / retry / forget / flush.

A dead job keeps its exact bytes (`body`, republished byte for byte by a retry) and a safe
text preview (`payload`), so any message can be stored, whatever its body or headers.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from ..envelope import ATTEMPT, ENQUEUED_AT, RETRIED_FROM, Envelope
from ..errors import NotFound
from ..publisher import Publisher
from ..safe_text import body_preview, jsonable, preview_payload, storable
from ..telemetry import tracing

# Every column but the body, which may be megabytes: listings never read it.
_COLUMNS = """
    id, queue, job_type, message_id, correlation_id, payload, payload_exact,
    coalesce(body_size, octet_length(payload)) AS body_size,
    headers, error, traceback, attempts, failed_at
"""
# A row without `body` (written before bodies were kept as bytes) has its payload's text.
_BODY = "coalesce(body, convert_to(payload, 'UTF8'))"
# A retry-all batch reads bodies up to about this many bytes at once (at least one job).
_RETRY_BATCH_BYTES = 16 * 1024 * 1024


class FailedJob(BaseModel):
    id: uuid.UUID
    queue: str
    type: str
    message_id: str
    error: str
    traceback: str
    attempts: int
    failed_at: datetime
    # The body as JSON when it is short UTF-8 JSON, else a text preview (see `preview`).
    payload: Any
    headers: dict[str, Any]
    size: int = 0  # the body's length in bytes
    preview: bool = False  # true when `payload` only previews the body (binary, long, ...)


def _row(row: asyncpg.Record) -> FailedJob:
    return FailedJob(
        id=row["id"],
        queue=row["queue"],
        type=row["job_type"],
        message_id=row["message_id"],
        error=row["error"],
        traceback=row["traceback"],
        attempts=row["attempts"],
        failed_at=row["failed_at"],
        payload=preview_payload(row["payload"], row["payload_exact"]),
        headers=json.loads(row["headers"]),
        size=row["body_size"],
        preview=not row["payload_exact"],
    )


class FailedJobStore:
    """Dead jobs kept in Postgres until retried, forgotten or flushed."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def add(
        self,
        *,
        queue: str,
        envelope: Envelope,
        body: bytes,
        error: str,
        traceback: str,
        attempts: int,
    ) -> uuid.UUID:
        """Record a dead job; the message may be acked once this returns.

        Whatever the message carries is storable: the body as bytes, every text made safe.
        """
        failed_id = uuid.uuid4()
        preview, exact = body_preview(body)
        correlation_id = envelope.correlation_id
        await self.pool.execute(
            """
            INSERT INTO runtime.failed_jobs
                (id, queue, job_type, message_id, correlation_id, payload, payload_exact,
                 body, body_size, headers, error, traceback, attempts)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)
            """,
            failed_id,
            storable(queue, 255),
            storable(envelope.job_type, 255),
            storable(envelope.message_id, 255),
            None if correlation_id is None else storable(correlation_id, 255),
            preview,
            exact,
            body,
            len(body),
            json.dumps(jsonable(envelope.headers)),
            storable(error, 10_000),
            storable(traceback, 50_000),
            attempts,
        )
        return failed_id

    async def list(
        self, queue: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[FailedJob]:
        rows = await self.pool.fetch(
            f"""
            SELECT {_COLUMNS} FROM runtime.failed_jobs
            WHERE ($1::text IS NULL OR queue = $1)
            ORDER BY failed_at DESC LIMIT $2 OFFSET $3
            """,
            queue,
            limit,
            offset,
        )
        return [_row(row) for row in rows]

    async def count(self, queue: str | None = None) -> int:
        value = await self.pool.fetchval(
            "SELECT count(*) FROM runtime.failed_jobs WHERE ($1::text IS NULL OR queue = $1)", queue
        )
        return int(value)

    async def counts(self) -> dict[str, int]:
        """How many failed jobs each queue has (queues with none are absent)."""
        rows = await self.pool.fetch(
            "SELECT queue, count(*) AS n FROM runtime.failed_jobs GROUP BY queue"
        )
        return {row["queue"]: int(row["n"]) for row in rows}

    async def get(self, failed_id: uuid.UUID) -> FailedJob:
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM runtime.failed_jobs WHERE id = $1", failed_id
        )
        if row is None:
            raise NotFound(f"no failed job {failed_id}")
        return _row(row)

    async def find_by_message(self, message_id: str) -> FailedJob | None:
        """The latest failed job of message `message_id`, if it is in the store."""
        row = await self.pool.fetchrow(
            "SELECT * FROM runtime.failed_jobs WHERE message_id = $1 "
            "ORDER BY failed_at DESC LIMIT 1",
            message_id,
        )
        return None if row is None else _row(row)

    async def body(self, failed_id: uuid.UUID) -> bytes:
        """The failed job's exact bytes, as they were delivered."""
        body = await self.pool.fetchval(
            f"SELECT {_BODY} FROM runtime.failed_jobs WHERE id = $1", failed_id
        )
        if body is None:
            raise NotFound(f"no failed job {failed_id}")
        return bytes(body)

    async def forget(self, failed_id: uuid.UUID) -> None:
        status = await self.pool.execute("DELETE FROM runtime.failed_jobs WHERE id = $1", failed_id)
        if status == "DELETE 0":
            raise NotFound(f"no failed job {failed_id}")

    async def flush(self, queue: str | None = None) -> int:
        status = await self.pool.execute(
            "DELETE FROM runtime.failed_jobs WHERE ($1::text IS NULL OR queue = $1)", queue
        )
        return int(status.split()[-1])

    async def retry(self, failed_id: uuid.UUID, publisher: Publisher) -> None:
        """Publish the job again to its queue with attempts reset, then forget it.

        The row is locked while the publish waits for its confirm, so two operators
        retrying the same job at once enqueue it once; a failed publish keeps the row.
        """
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                f"SELECT *, {_BODY} AS exact_body FROM runtime.failed_jobs"
                " WHERE id = $1 FOR UPDATE SKIP LOCKED",
                failed_id,
            )
            if row is None:
                raise NotFound(f"no failed job {failed_id} (or it is being retried)")
            await _republish(row, publisher)
            await connection.execute("DELETE FROM runtime.failed_jobs WHERE id = $1", failed_id)

    async def retry_all(self, publisher: Publisher, queue: str | None = None) -> int:
        """Retry every failed job (of `queue`), in batches; returns how many were requeued.

        A batch locks up to 500 jobs but reads bodies only up to about 16 MB at once; the
        jobs it did not read are unlocked at commit and taken by the next batch.
        """
        retried = 0
        while True:
            async with self.pool.acquire() as connection, connection.transaction():
                sizes = await connection.fetch(
                    """
                    SELECT id, coalesce(body_size, octet_length(payload)) AS body_size
                    FROM runtime.failed_jobs
                    WHERE ($1::text IS NULL OR queue = $1)
                    ORDER BY failed_at LIMIT 500 FOR UPDATE SKIP LOCKED
                    """,
                    queue,
                )
                if not sizes:
                    return retried
                rows = await connection.fetch(
                    f"SELECT *, {_BODY} AS exact_body FROM runtime.failed_jobs"
                    " WHERE id = ANY($1::uuid[])",
                    _within_budget(sizes, _RETRY_BATCH_BYTES),
                )
                await asyncio.gather(*(_republish(row, publisher) for row in rows))
                await connection.execute(
                    "DELETE FROM runtime.failed_jobs WHERE id = ANY($1::uuid[])",
                    [row["id"] for row in rows],
                )
                retried += len(rows)


def _within_budget(sizes: list[asyncpg.Record], budget: int) -> list[uuid.UUID]:
    """The leading ids whose bodies add up to at most `budget` bytes (at least one)."""
    chosen: list[uuid.UUID] = []
    total = 0
    for row in sizes:
        total += row["body_size"]
        if chosen and total > budget:
            break
        chosen.append(row["id"])
    return chosen


async def _republish(row: asyncpg.Record, publisher: Publisher) -> None:
    headers: dict[str, Any] = json.loads(row["headers"])
    headers[ATTEMPT] = 1
    headers.pop(ENQUEUED_AT, None)
    headers[RETRIED_FROM] = str(row["id"])
    # The retry belongs to the trace of whoever asked for it (the dashboard or ops API
    # request), not to the trace of the original publish, which ended long ago.
    for key in ("traceparent", "tracestate"):
        headers.pop(key, None)
    tracing.inject(headers)
    envelope = Envelope(
        message_id=row["message_id"],
        job_type=row["job_type"],
        correlation_id=row["correlation_id"],
        headers=headers,
    )
    # Straight to the work queue through the default exchange: a retried job goes back
    # where it failed even if its routing has changed since; its body is the exact bytes
    # that were delivered, in the runtime's own envelope.
    await publisher.publish_body("", row["queue"], bytes(row["exact_body"]), envelope.properties())
