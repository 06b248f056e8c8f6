"""Settling a delivery: run its handler, then ack it, send it to a retry tier, bury or requeue it.

The outcome decides: success or a duplicate is acked; a throttle or infrastructure
trouble makes the job wait in a tier without spending an attempt; a failure is retried
through its tier until its last attempt, then buried in the failed-job store, like a
permanent error or an invalid payload (common.dead_letters.burial: waiting for the store, or parked
when it stays out of reach). A copy is confirmed before the original is acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections import OrderedDict

import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..dead_letters.burial import Burial
from ..envelope import Envelope, Job
from ..errors import Permanent, RetryLater
from ..runtime import Runtime
from ..telemetry import error_reports
from ..topology import Queue, RetryTier
from .acks import BatchedAcks
from .context import AlreadyProcessed, JobContext
from .registry import Route
from .retries import max_attempts, retry_delay, tier_copy, tier_for

# A throttle shorter than this waits in the worker; a longer one makes the job wait in a tier.
_SHORT_WAIT = 1.0
# Infrastructure trouble is not the job's fault: wait for it without spending an attempt.
_INFRA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
    # Contention between concurrent jobs: Postgres aborted one of them, not the job's fault.
    asyncpg.exceptions.DeadlockDetectedError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionRefusedError,
)
_INFRA_WAIT = 5.0
# A delivery that could not be settled goes back after a pause that doubles each time the
# same message comes back (up to a minute): trouble never turns into a hot loop.
_REQUEUE_PAUSES = (1.0, 60.0)
_REQUEUES_REMEMBERED = 10_000


class Settler:
    """Runs each delivery's handler and settles the delivery by its outcome."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        # Set when the worker stops: a short throttle then parks its job instead of waiting.
        self.stopping = False
        # Queue name -> its acks. Keyed by queue, not consumer: delivery tags belong to the
        # channel, which autoscaling shares between an old and a new consumer.
        self._acks: dict[str, BatchedAcks] = {}
        self.burial = Burial(
            runtime.failed_jobs,
            runtime.publisher,
            runtime.settings.park_after_seconds,
            lambda: self.stopping,
        )
        self._requeues: OrderedDict[str, int] = OrderedDict()  # message id -> times

    def acks_of(self, queue: str) -> BatchedAcks:
        """The acks of `queue`'s channel (created on first use)."""
        acks = self._acks.get(queue)
        if acks is None:
            acks = self._acks[queue] = BatchedAcks()
        return acks

    def finish(self, queue: str, message: AbstractIncomingMessage) -> None:
        """Ack `message` (batched: sent with the others finished within the ack window)."""
        self.acks_of(queue).finished(message)

    async def drain(self) -> None:
        """Send every pending ack and wait for them."""
        for acks in self._acks.values():
            await acks.drain()

    async def run(
        self, route: Route, job: Job, message: AbstractIncomingMessage, envelope: Envelope
    ) -> tuple[str, str | None]:
        """Run the handler of `route` on `job` and settle the delivery: (outcome, error)."""
        queue = route.queue
        timeout = queue.timeout or self.settings.job_timeout
        context = JobContext(self.runtime, queue, envelope)
        while True:
            try:
                async with asyncio.timeout(timeout):
                    await route.func(job, context)
            except AlreadyProcessed:
                self.finish(queue.name, message)
                return "duplicate", None
            except RetryLater as later:
                if later.delay <= _SHORT_WAIT and not self.stopping:
                    await asyncio.sleep(later.delay)
                    continue
                await self._wait_in_tier(queue, message, envelope, later.delay, envelope.attempt)
                return "delayed", later.reason
            except _INFRA_ERRORS as trouble:
                await self._wait_in_tier(queue, message, envelope, _INFRA_WAIT, envelope.attempt)
                return "delayed", f"infrastructure unavailable: {trouble!r}"
            except Permanent as permanent:
                error = f"{type(permanent).__name__}: {permanent}"
                outcome = await self.bury(
                    queue, message, envelope, error, traceback.format_exc(), permanent
                )
                return outcome, error
            except TimeoutError as timed_out:
                error = f"timed out after {timeout:g}s"
                return await self._fail_attempt(
                    queue, message, envelope, error, traceback.format_exc(), timed_out
                )
            except Exception as failure:
                error = f"{type(failure).__name__}: {failure}"
                return await self._fail_attempt(
                    queue, message, envelope, error, traceback.format_exc(), failure
                )
            self.finish(queue.name, message)
            return "done", None

    async def requeue(
        self, queue: str, message: AbstractIncomingMessage, envelope: Envelope
    ) -> None:
        """Hand `message` back to `queue` after a pause (settling it failed), longer each
        time the same message comes back."""
        times = self._requeues.pop(envelope.message_id, 0)
        self._requeues[envelope.message_id] = times + 1
        while len(self._requeues) > _REQUEUES_REMEMBERED:
            self._requeues.popitem(last=False)
        first, longest = _REQUEUE_PAUSES
        await asyncio.sleep(min(first * 2**times, longest))
        with contextlib.suppress(Exception):
            await message.nack(requeue=True)
        self.acks_of(queue).forget(message)

    async def bury(
        self,
        queue: Queue,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        error: str,
        trace: str,
        exception: BaseException | None = None,
    ) -> str:
        """Record `message` in the failed-job store (or park it), then ack it: "failed" or
        "parked". The failure is also reported to Sentry when it is configured."""
        outcome = await self.burial.bury(queue.name, message, envelope, error, trace)
        self.finish(queue.name, message)
        self._requeues.pop(envelope.message_id, None)
        error_reports.job_died(
            exception,
            error,
            queue=queue.name,
            job_type=envelope.job_type,
            message_id=envelope.message_id,
            attempt=envelope.attempt,
        )
        return outcome

    async def _fail_attempt(
        self,
        queue: Queue,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        error: str,
        trace: str,
        exception: BaseException,
    ) -> tuple[str, str | None]:
        if envelope.attempt >= max_attempts(queue, self.settings):
            return await self.bury(queue, message, envelope, error, trace, exception), error
        delay = retry_delay(queue, self.settings, envelope.attempt)
        await self._send_to_tier(message, RetryTier(queue.name, delay), envelope.attempt + 1, error)
        return "retried", error

    async def _wait_in_tier(
        self,
        queue: Queue,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        delay: float,
        attempt: int,
    ) -> None:
        await self._send_to_tier(message, tier_for(queue, self.settings, delay), attempt, None)

    async def _send_to_tier(
        self, message: AbstractIncomingMessage, tier: RetryTier, attempt: int, error: str | None
    ) -> None:
        """Publish a copy to the tier (confirmed) before acking the original: never lost."""
        copy = tier_copy(message, tier, attempt, error)
        await self.runtime.publisher.publish_body("", tier.name, message.body, copy)
        self.finish(tier.target, message)
