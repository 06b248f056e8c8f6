"""One staged job as the outbox keeps it: where it goes, its bytes and its envelope."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..envelope import (
    ATTEMPT,
    IDEMPOTENCY_KEY,
    STAGED_AT,
    USER_ID,
    Envelope,
    Job,
    enqueued_stamp,
    job_type,
)
from ..telemetry import tracing
from ..topology import Queue


@dataclass(frozen=True)
class OutboxEntry:
    """One staged job: where it goes, its bytes and its envelope."""

    id: uuid.UUID
    exchange: str
    routing_key: str
    body: bytes
    envelope: Envelope


def entries_for(jobs: Sequence[tuple[Queue, Job, Envelope]]) -> list[OutboxEntry]:
    """The entries of `jobs` (queue, payload, envelope), as they will be published."""
    # One transaction stages them all: one trace context, one staging time.
    shared: dict[str, Any] = {STAGED_AT: enqueued_stamp(time.time())}
    tracing.inject(shared)
    return [_entry(queue, job, envelope, shared) for queue, job, envelope in jobs]


def _entry(queue: Queue, job: Job, envelope: Envelope, shared: dict[str, Any]) -> OutboxEntry:
    # What the envelope's own fields put in the headers when it is published: a row
    # keeps only the headers, so a sweep rebuilds the same message from them.
    headers = {**envelope.headers, **shared, ATTEMPT: envelope.attempt}
    if envelope.user_id is not None:
        headers[USER_ID] = envelope.user_id
    if envelope.idempotency_key is not None:
        headers[IDEMPOTENCY_KEY] = envelope.idempotency_key
    staged = Envelope(
        message_id=envelope.message_id,
        job_type=envelope.job_type or job_type(type(job)),
        correlation_id=envelope.correlation_id,
        attempt=envelope.attempt,
        headers=headers,
    )
    return OutboxEntry(
        uuid.uuid4(), queue.exchange, queue.routing_key, job.model_dump_json().encode(), staged
    )


def entry_from_row(row: asyncpg.Record) -> OutboxEntry:
    """The entry a `runtime.outbox` row holds."""
    headers = json.loads(row["headers"])
    attempt = headers.get(ATTEMPT)
    envelope = Envelope(
        message_id=row["message_id"],
        job_type=row["job_type"],
        correlation_id=row["correlation_id"],
        # A job may start past attempt 1 (a producer's own count, e.g. a Laravel job's).
        attempt=attempt if isinstance(attempt, int) and attempt >= 1 else 1,
        headers=headers,
    )
    return OutboxEntry(row["id"], row["exchange"], row["routing_key"], bytes(row["body"]), envelope)
