"""Publishing the outbox: follow-up jobs committed with their cause, sent after commit.

A crash between commit and publish leaves rows unpublished; the next periodic run sweeps
them. A crash between publish and marking them published sends them again with the same
message ids, which the consumers absorb (notification ids, the e-mail idempotency record).
"""

from __future__ import annotations

import asyncio

from common import topology, tracing
from common.envelope import Envelope
from common.publisher import Publisher
from common.runtime import Runtime

from . import store

BATCH = 2000


async def _publish(publisher: Publisher, entry: store.OutboxEntry) -> None:
    queue = topology.queue(entry.queue)
    envelope = Envelope(message_id=str(entry.id), job_type=entry.job_type)
    tracing.inject(envelope.headers)
    await publisher.publish_body(
        queue.exchange, queue.routing_key, entry.payload.encode(), envelope.properties()
    )


async def publish_pending(runtime: Runtime) -> int:
    """Publish every unpublished row (confirmed), batch by batch; returns how many.

    The batch stays locked (FOR UPDATE SKIP LOCKED) until it is marked, so two workers
    never publish the same rows at once; a failed publish rolls the marks back and raises.
    """
    total = 0
    while True:
        async with runtime.pool.acquire() as connection, connection.transaction():
            entries = await store.lock_unpublished(connection, BATCH)
            if not entries:
                break
            await asyncio.gather(*(_publish(runtime.publisher, e) for e in entries))
            await store.mark_published(connection, [e.id for e in entries])
        total += len(entries)
        if len(entries) < BATCH:
            break
    if total:
        async with runtime.pool.acquire() as connection:
            await store.prune_outbox(connection)
    return total
