"""Settling a delivery: run its handler, then ack it, send it to a retry tier, or bury it.

What a handler raised, or each part of a batch it returned unfinished, is decided by
common.consumer.decisions; this module carries the decision out. A copy (a retry, a
wait, a part) is confirmed by the broker before the original is acked, and a dead job is
in the failed-job store (or parked, common.dead_letters.burial) before its route's
`on_dead` hook runs and the original is acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections import OrderedDict

from aio_pika.abc import AbstractIncomingMessage
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from ..dead_letters.burial import Burial, DeadMessage
from ..envelope import MAX_ATTEMPTS, RETRY_DELAYS, RETRY_UNTIL, TIMEOUT, Envelope, Job, job_type
from ..outcomes import Outcome
from ..runtime import Runtime
from ..telemetry import error_reports
from ..topology import Queue, RetryTier
from .acks import BatchedAcks
from .context import AlreadyProcessed, JobContext
from .decisions import INFRA_ERRORS, Action, Decision, decide
from .registry import Route
from .results import Death, Unfinished
from .retries import RetryPolicy, policy_for, retry_tier, tier_copy, tier_headers, wait_tier

log = logging.getLogger("relay.jobs")

# A wait shorter than this happens in the worker; a longer one makes the job wait in a tier.
_SHORT_WAIT = 1.0
# A delivery that could not be settled goes back after a pause that doubles each time the
# same message comes back (up to a minute): trouble never turns into a hot loop. Counted
# per message across its redeliveries, which no single retry loop (tenacity's) spans.
_REQUEUE_PAUSES = (1.0, 60.0)
_REQUEUES_REMEMBERED = 10_000
# What a part keeps of its batch's headers: its trace and its own retry policy.
_PART_HEADERS = ("traceparent", "tracestate", MAX_ATTEMPTS, RETRY_DELAYS, TIMEOUT, RETRY_UNTIL)


class Settler:
    """Runs each delivery's handler and settles the delivery by its outcome."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        # Set when the worker stops: a short wait then sends its job to a tier instead.
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
    ) -> tuple[Outcome, str | None]:
        """Run the handler of `route` on `job` and settle the delivery: (outcome, error)."""
        queue = route.queue
        policy = policy_for(queue, self.settings, envelope)
        context = JobContext(self.runtime, queue, envelope)
        while True:
            try:
                async with asyncio.timeout(policy.timeout):
                    unfinished = await route.func(job, context)
            except AlreadyProcessed:
                self.finish(queue.name, message)
                return Outcome.duplicate, None
            except Exception as failure:
                decision = decide(failure, envelope.attempt, policy)
                if self._waits_here(decision):
                    await asyncio.sleep(decision.delay)
                    continue
                trace = traceback.format_exc() if decision.action is Action.bury else ""
                outcome = await self._settle(route, message, envelope, decision, failure, trace)
                if outcome in (Outcome.failed, Outcome.parked):
                    await self._mourn(route, job, context, decision, failure, outcome)
                self.finish(queue.name, message)
                return outcome, decision.error
            if unfinished:
                await asyncio.gather(
                    *(self._settle_part(route, context, policy, part) for part in unfinished)
                )
            self.finish(queue.name, message)
            return Outcome.done, None

    async def refuse(
        self,
        queue: Queue,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        refused: Exception,
    ) -> Outcome:
        """Bury a delivery that is no job of its queue (never retried: the same bytes would
        be refused again), then ack it. No `on_dead`: there is no job to give it."""
        dead = DeadMessage.delivered(queue.name, message, envelope)
        outcome = await self._bury(dead, str(refused), "", refused)
        self.finish(queue.name, message)
        return outcome

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

    def _tier(self, queue: Queue, decision: Decision) -> RetryTier:
        if decision.action is Action.retry:
            return retry_tier(queue, self.settings, decision.delay)
        return wait_tier(queue, self.settings, decision.delay)

    def _waits_here(self, decision: Decision) -> bool:
        return (
            decision.action is Action.wait and decision.delay <= _SHORT_WAIT and not self.stopping
        )

    async def _settle(
        self,
        route: Route,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        decision: Decision,
        failure: BaseException,
        trace: str,
    ) -> Outcome:
        """Carry `decision` out for a whole delivery (the caller acks it afterwards)."""
        queue = route.queue
        if decision.action is Action.bury:
            dead = DeadMessage.delivered(queue.name, message, envelope)
            return await self._bury(dead, decision.error, trace, failure)
        tier = self._tier(queue, decision)
        attempt = decision.next_attempt(envelope.attempt)
        error = decision.error if decision.action is Action.retry else None
        copy = tier_copy(message, tier, attempt, error)
        await self.runtime.publisher.publish_body("", tier.name, message.body, copy)
        return Outcome.retried if decision.action is Action.retry else Outcome.delayed

    async def _settle_part(
        self, route: Route, context: JobContext, policy: RetryPolicy, unfinished: Unfinished
    ) -> None:
        """Carry out the decision for one part of a batch: publish it back (confirmed) to
        its tier, or straight to the queue, or bury it and mourn it."""
        queue = route.queue
        attempt = context.attempt
        decision = decide(unfinished.failure, attempt, policy)
        envelope = _part_envelope(context.envelope, unfinished, decision.next_attempt(attempt))
        body = unfinished.part.model_dump_json().encode()
        if decision.action is Action.bury:
            dead = DeadMessage.made(queue.name, body, envelope)
            outcome = await self._bury(dead, decision.error, "", unfinished.failure)
            part_context = JobContext(self.runtime, queue, envelope)
            await self._mourn(
                route, unfinished.part, part_context, decision, unfinished.failure, outcome
            )
            return
        properties = envelope.properties()
        target = queue.name
        if decision.delay > 0:
            tier = self._tier(queue, decision)
            error = decision.error if decision.action is Action.retry else None
            properties.headers = tier_headers(
                properties.headers or {}, tier, envelope.attempt, error
            )
            target = tier.name
        await self.runtime.publisher.publish_body("", target, body, properties)

    async def _bury(
        self, dead: DeadMessage, error: str, trace: str, failure: BaseException | None
    ) -> Outcome:
        """Store `dead` (or park it) and report its death to Sentry when configured."""
        outcome = await self.burial.bury(dead, error, trace)
        self._requeues.pop(dead.envelope.message_id, None)
        error_reports.job_died(
            failure,
            error,
            queue=dead.queue,
            job_type=dead.envelope.job_type,
            message_id=dead.envelope.message_id,
            attempt=dead.envelope.attempt,
        )
        return outcome

    async def _mourn(
        self,
        route: Route,
        job: Job,
        context: JobContext,
        decision: Decision,
        failure: BaseException,
        outcome: Outcome,
    ) -> None:
        """Run the route's `on_dead` hook once for a job now durably dead.

        Infrastructure trouble (its database away) is retried for up to PARK_AFTER_SECONDS
        (not past a stop); a hook that still fails is logged and reported, never retried
        through the job: the job is in the failed-job store, and retrying it from there
        runs it, and on a second death its hook, again.
        """
        if route.on_dead is None:
            return
        death = Death(decision.error, failure, outcome)
        try:
            async for attempt in AsyncRetrying(
                wait=wait_exponential(multiplier=0.5, max=10),
                stop=stop_after_delay(0 if self.stopping else self.settings.park_after_seconds),
                retry=retry_if_exception_type(INFRA_ERRORS),
                reraise=True,
            ):
                with attempt:
                    await route.on_dead(job, context, death)
        except Exception as hook_failed:
            context.log.exception(
                "on_dead hook failed; the job stays in the failed-job store",
                extra={"queue": route.queue.name, "error": repr(hook_failed)},
            )
            error_reports.job_died(
                hook_failed,
                f"on_dead hook failed: {hook_failed!r}",
                queue=route.queue.name,
                job_type=context.envelope.job_type,
                message_id=context.message_id,
                attempt=context.attempt,
            )


def _part_envelope(batch: Envelope, unfinished: Unfinished, attempt: int) -> Envelope:
    return Envelope(
        message_id=unfinished.message_id,
        job_type=job_type(type(unfinished.part)),
        correlation_id=batch.correlation_id,
        attempt=attempt,
        user_id=batch.user_id,
        headers={key: batch.headers[key] for key in _PART_HEADERS if key in batch.headers},
    )
