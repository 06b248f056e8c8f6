"""Burying a dead message even when the failed-job store cannot take it.

A dead message is stored in the failed-job store, then acked. When the store is
unreachable (Postgres down), the message waits unacked, retrying with backoff (0.5 s,
1 s, 2 s, ... 30 s), for up to PARK_AFTER_SECONDS; it is never requeued in a hot loop.
After that (or at once, if the store refuses its content, or when the worker stops) a
copy is published, confirmed, to the queue's `<queue>.parked` and only then the original
is acked: no message is acked before it is stored somewhere durable.

Nothing consumes a parked queue but the drain (common.dead_letters.drain), which moves parked
messages into the failed-job store once it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic

from ..envelope import ATTEMPT, Envelope
from ..publisher import Publisher
from ..safe_text import storable
from ..topology import parked_name
from .failed_jobs import FailedJobStore

log = logging.getLogger("relay.jobs")

PARKED_REASON = "x-parked-reason"
PARKED_ERROR = "x-parked-error"
PARKED_TRACE = "x-parked-traceback"
PARKED_AT = "x-parked-at"

# What the store refuses for the message's content: waiting for it would not help.
_REFUSED: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
    asyncpg.exceptions.ProgramLimitExceededError,
)
# One try at the store; a connection that hangs counts as an outage.
_STORE_TIMEOUT = 10.0
_FIRST_PAUSE = 0.5
_LONGEST_PAUSE = 30.0


class Burial:
    """Stores dead messages in the failed-job store, waiting for it or parking them."""

    def __init__(
        self,
        store: FailedJobStore,
        publisher: Publisher,
        park_after: float,
        stopping: Callable[[], bool],
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.park_after = park_after
        self.stopping = stopping

    async def bury(
        self,
        queue: str,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        error: str,
        trace: str,
    ) -> str:
        """Store `message` as failed; returns "failed", or "parked" when it was parked.

        Returns once the message is durable somewhere (the caller then acks it); raises
        when parking failed too (the broker is in trouble: the caller hands it back).
        """
        deadline = time.monotonic() + self.park_after
        pause = _FIRST_PAUSE
        while True:
            try:
                async with asyncio.timeout(_STORE_TIMEOUT):
                    await self.store.add(
                        queue=queue,
                        envelope=envelope,
                        body=message.body,
                        error=error,
                        traceback=trace,
                        attempts=envelope.attempt,
                    )
                return "failed"
            except _REFUSED as refused:
                reason = f"the failed-job store refused it: {refused!r}"
                break
            except Exception as outage:
                reason = f"the failed-job store was unreachable: {outage!r}"
                if self.stopping() or time.monotonic() + pause > deadline:
                    break
                log.warning(
                    "failed-job store unreachable; the message waits unacked",
                    extra={
                        "queue": queue,
                        "message_id": envelope.message_id,
                        "retry_in": pause,
                        "error": repr(outage),
                    },
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
        await self.park(queue, message, envelope, error, trace, reason)
        return "parked"

    async def park(
        self,
        queue: str,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        error: str,
        trace: str,
        reason: str,
    ) -> None:
        """Publish a confirmed copy of `message` to `<queue>.parked`, with why it is there."""
        headers = dict(message.headers or {})
        headers[ATTEMPT] = envelope.attempt
        headers[PARKED_ERROR] = storable(error, 2000)
        headers[PARKED_REASON] = storable(reason, 1000)
        # Header frames are limited in size: keep the end of the traceback, where the error is.
        headers[PARKED_TRACE] = storable(trace[-4000:])
        headers[PARKED_AT] = int(time.time() * 1000)
        properties = Basic.Properties(
            message_id=envelope.message_id,
            correlation_id=message.correlation_id,
            message_type=message.type,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=2,
            timestamp=message.timestamp,
            headers=headers,
        )
        target = parked_name(queue)
        await self.publisher.publish_body("", target, message.body, properties)
        log.error(
            "message parked: the failed-job store could not take it",
            extra={
                "queue": queue,
                "parked_on": target,
                "message_id": envelope.message_id,
                "reason": reason,
            },
        )
