"""One staged job as the outbox keeps it: where it goes, its bytes and its envelope."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import asyncpg

from ..envelope import STAGED_AT, Envelope, Job, enqueued_stamp, job_type
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


def entry_for(queue: Queue, job: Job, envelope: Envelope) -> OutboxEntry:
    """The entry of `job` for `queue`, with the envelope it will be published in."""
    if not envelope.job_type:
        envelope.job_type = job_type(type(job))
    # The trace of the request or job that staged it: the follow-up continues that trace.
    tracing.inject(envelope.headers)
    envelope.headers[STAGED_AT] = enqueued_stamp(time.time())
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


def entry_from_row(row: asyncpg.Record) -> OutboxEntry:
    """The entry a `runtime.outbox` row holds."""
    envelope = Envelope(
        message_id=row["message_id"],
        job_type=row["job_type"],
        correlation_id=row["correlation_id"],
        headers=json.loads(row["headers"]),
    )
    return OutboxEntry(row["id"], row["exchange"], row["routing_key"], bytes(row["body"]), envelope)
