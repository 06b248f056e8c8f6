"""Burying a dead message even when the failed-job store cannot take it.

A dead message (a delivery, or a part of a batch job) is stored in the failed-job store,
and only then acked. When the store is unreachable (Postgres down), the message waits
unacked, retrying with backoff (0.5 s doubling to 30 s), for up to PARK_AFTER_SECONDS; it
is never requeued in a hot loop. After that (or at once, if the store refuses its content,
or when the worker stops) a copy is published, confirmed, to the queue's `<queue>.parked`:
no message is acked before it is stored somewhere durable.

Nothing consumes a parked queue but the drain (common.dead_letters.drain), which moves
parked messages into the failed-job store once it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic
from tenacity import AsyncRetrying, RetryCallState, retry_if_not_exception_type, wait_exponential
from tenacity.stop import stop_base

from ..envelope import ATTEMPT, Envelope
from ..outcomes import Outcome
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
_STORE_WAIT = wait_exponential(multiplier=0.5, max=30)


@dataclass(frozen=True)
class DeadMessage:
    """A message to bury: its queue, exact bytes, envelope, and the properties a parked
    copy is published with."""

    queue: str
    body: bytes
    envelope: Envelope
    properties: Basic.Properties

    @classmethod
    def delivered(
        cls, queue: str, message: AbstractIncomingMessage, envelope: Envelope
    ) -> DeadMessage:
        """A delivery as it came, properties and headers kept."""
        properties = Basic.Properties(
            message_id=envelope.message_id,
            correlation_id=message.correlation_id,
            message_type=message.type,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=int(aio_pika.DeliveryMode.PERSISTENT),
            timestamp=message.timestamp,
            headers=dict(message.headers or {}),
        )
        return cls(queue, message.body, envelope, properties)

    @classmethod
    def made(cls, queue: str, body: bytes, envelope: Envelope) -> DeadMessage:
        """A message the runtime made (a part of a batch), never delivered on its own."""
        return cls(queue, body, envelope, envelope.properties())


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

    async def bury(self, dead: DeadMessage, error: str, trace: str) -> Outcome:
        """Store `dead` as failed (Outcome.failed), or park it (Outcome.parked).

        Returns once the message is durable somewhere (the caller then acks it); raises
        when parking failed too (the broker is in trouble: the caller hands it back).
        """
        try:
            async for attempt in AsyncRetrying(
                wait=_STORE_WAIT,
                stop=_GiveUp(time.monotonic() + self.park_after, self.stopping),
                retry=retry_if_not_exception_type(_REFUSED),
                before_sleep=lambda state: self._waiting(dead, state),
                reraise=True,
            ):
                with attempt:
                    async with asyncio.timeout(_STORE_TIMEOUT):
                        await self.store.add(
                            queue=dead.queue,
                            envelope=dead.envelope,
                            body=dead.body,
                            error=error,
                            traceback=trace,
                            attempts=dead.envelope.attempt,
                        )
            return Outcome.failed
        except _REFUSED as refused:
            reason = f"the failed-job store refused it: {refused!r}"
        except Exception as outage:
            reason = f"the failed-job store was unreachable: {outage!r}"
        await self.park(dead, error, trace, reason)
        return Outcome.parked

    def _waiting(self, dead: DeadMessage, state: RetryCallState) -> None:
        outage = state.outcome.exception() if state.outcome else None
        log.warning(
            "failed-job store unreachable; the message waits unacked",
            extra={
                "queue": dead.queue,
                "message_id": dead.envelope.message_id,
                "retry_in": state.upcoming_sleep,
                "error": repr(outage),
            },
        )

    async def park(self, dead: DeadMessage, error: str, trace: str, reason: str) -> None:
        """Publish a confirmed copy of `dead` to `<queue>.parked`, with why it is there."""
        headers = dict(dead.properties.headers or {})
        headers[ATTEMPT] = dead.envelope.attempt
        headers[PARKED_ERROR] = storable(error, 2000)
        headers[PARKED_REASON] = storable(reason, 1000)
        # Header frames are limited in size: keep the end of the traceback, where the error is.
        headers[PARKED_TRACE] = storable(trace[-4000:])
        headers[PARKED_AT] = int(time.time() * 1000)
        dead.properties.headers = headers
        target = parked_name(dead.queue)
        await self.publisher.publish_body("", target, dead.body, dead.properties)
        log.error(
            "message parked: the failed-job store could not take it",
            extra={
                "queue": dead.queue,
                "parked_on": target,
                "message_id": dead.envelope.message_id,
                "reason": reason,
            },
        )


class _GiveUp(stop_base):
    """Stop waiting for the store once the next pause would end past `deadline`, or as
    soon as the worker stops: the message is parked instead."""

    def __init__(self, deadline: float, stopping: Callable[[], bool]) -> None:
        self.deadline = deadline
        self.stopping = stopping

    def __call__(self, retry_state: RetryCallState) -> bool:
        pause = _STORE_WAIT(retry_state)
        return self.stopping() or time.monotonic() + pause > self.deadline
