"""The failed-job store: Laravel's `failed_jobs`, with list / retry / forget / flush."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from . import tracing
from .envelope import ATTEMPT, ENQUEUED_AT, RETRIED_FROM, Envelope
from .errors import NotFound
from .publisher import Publisher


class FailedJob(BaseModel):
    id: uuid.UUID
    queue: str
    type: str
    message_id: str
    error: str
    traceback: str
    attempts: int
    failed_at: datetime
    payload: Any
    headers: dict[str, Any]


def _payload(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


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
        payload=_payload(row["payload"]),
        headers=json.loads(row["headers"]),
    )


def _jsonable_headers(headers: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.decode(errors="replace") if isinstance(value, bytes) else value
        for key, value in headers.items()
    }


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
        """Record a dead job; the message may be acked once this returns."""
        failed_id = uuid.uuid4()
        await self.pool.execute(
            """
            INSERT INTO runtime.failed_jobs
                (id, queue, job_type, message_id, correlation_id, payload, headers,
                 error, traceback, attempts)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)
            """,
            failed_id,
            queue,
            envelope.job_type,
            envelope.message_id,
            envelope.correlation_id,
            body.decode(errors="replace"),
            json.dumps(_jsonable_headers(envelope.headers), default=str),
            error,
            traceback,
            attempts,
        )
        return failed_id

    async def list(
        self, queue: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[FailedJob]:
        rows = await self.pool.fetch(
            """
            SELECT * FROM runtime.failed_jobs
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
        row = await self.pool.fetchrow("SELECT * FROM runtime.failed_jobs WHERE id = $1", failed_id)
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
                "SELECT * FROM runtime.failed_jobs WHERE id = $1 FOR UPDATE SKIP LOCKED", failed_id
            )
            if row is None:
                raise NotFound(f"no failed job {failed_id} (or it is being retried)")
            await _republish(row, publisher)
            await connection.execute("DELETE FROM runtime.failed_jobs WHERE id = $1", failed_id)

    async def retry_all(self, publisher: Publisher, queue: str | None = None) -> int:
        """Retry every failed job (of `queue`), in batches; returns how many were requeued."""
        retried = 0
        while True:
            async with self.pool.acquire() as connection, connection.transaction():
                rows = await connection.fetch(
                    """
                    SELECT * FROM runtime.failed_jobs
                    WHERE ($1::text IS NULL OR queue = $1)
                    ORDER BY failed_at LIMIT 500 FOR UPDATE SKIP LOCKED
                    """,
                    queue,
                )
                if not rows:
                    return retried
                await asyncio.gather(*(_republish(row, publisher) for row in rows))
                await connection.execute(
                    "DELETE FROM runtime.failed_jobs WHERE id = ANY($1::uuid[])",
                    [row["id"] for row in rows],
                )
                retried += len(rows)


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
    # where it failed even if its routing has changed since.
    await publisher.publish_body("", row["queue"], row["payload"].encode(), envelope.properties())
