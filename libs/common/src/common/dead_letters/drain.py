"""The drain: parked messages move into the failed-job store once it answers again.

Parked messages are listed and retried with the failed jobs: each worker drains its
queues' `<queue>.parked` every PARK_DRAIN_SECONDS, and the ops API, the CLI and the
dashboard drain every parked queue before they list or retry failed jobs. A parked
message is taken with basic.get, stored with its exact bytes and the reason it was
parked, and only then acked; if the store fails it goes back and the drain stops.
Peeking (get + requeue) is never used: on a quorum queue it would spend the message's
delivery limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from aio_pika.abc import AbstractChannel
from aio_pika.exceptions import ChannelPreconditionFailed

from ..envelope import Envelope
from ..errors import BrokerUnavailable
from ..publisher import Publisher
from ..safe_text import decoded
from ..topology import Queue, all_queues
from .burial import PARKED_ERROR, PARKED_REASON, PARKED_TRACE
from .failed_jobs import FailedJobStore

log = logging.getLogger("relay.jobs")

# At most this many messages per queue and drain: a drain never holds a caller for long.
DRAIN_LIMIT = 1000


async def drain_parked(
    store: FailedJobStore, publisher: Publisher, queues: Iterable[Queue] | None = None
) -> int:
    """Move parked messages of `queues` (default: every registered queue) into `store`
    through `publisher`'s connection; returns how many. Never raises: a drain is an
    opportunity."""
    try:
        async with asyncio.timeout(5):
            await store.pool.fetchval("SELECT 1")
    except Exception:
        return 0  # the store is not back yet: nothing is touched
    try:
        moved = 0
        for queue in all_queues() if queues is None else queues:
            # A channel per queue: a refused declare (a parked queue made under other
            # arguments) closes the channel it ran on.
            async with publisher.channel() as channel:
                parked = await _declare_parked(publisher, channel, queue)
            async with publisher.channel() as channel:
                moved += await _drain_one(store, channel, queue, parked)
        return moved
    except (TimeoutError, BrokerUnavailable, OSError) as trouble:
        log.debug("parked queues not drained", extra={"error": repr(trouble)})
        return 0
    except Exception:
        log.exception("parked queues not drained")
        return 0


async def _declare_parked(publisher: Publisher, channel: AbstractChannel, work: Queue) -> str:
    """Declare `work`'s parked queue as the publisher declares it (a process that never
    declared it drains nothing instead of losing its channel to a 404); one that exists
    under other arguments (another RABBITMQ_QUORUM_SIZE, an older version) is used as it is."""
    settings = publisher.settings
    spec = work.parked
    arguments = spec.arguments(settings.rabbitmq_queue_type, settings.rabbitmq_quorum_size)
    with contextlib.suppress(ChannelPreconditionFailed):
        await channel.declare_queue(spec.name, durable=True, arguments=arguments)
    return spec.name


async def _drain_one(
    store: FailedJobStore, channel: AbstractChannel, work: Queue, name: str
) -> int:
    queue = work.name
    parked = await channel.get_queue(name, ensure=False)
    moved = 0
    while moved < DRAIN_LIMIT:
        message = await parked.get(no_ack=False, fail=False)
        if message is None:
            break
        envelope = Envelope.from_message(message)
        headers = envelope.headers
        error = decoded(headers.get(PARKED_ERROR) or "parked")
        reason = decoded(headers.get(PARKED_REASON) or "")
        try:
            await store.add(
                queue=queue,
                envelope=envelope,
                body=message.body,
                error=error,
                traceback=f"{decoded(headers.get(PARKED_TRACE) or '')}\n(parked: {reason})",
                attempts=envelope.attempt,
            )
        except Exception:
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            raise
        await message.ack()
        moved += 1
    if moved:
        log.info(
            "parked messages moved to the failed-job store", extra={"queue": queue, "moved": moved}
        )
    return moved
