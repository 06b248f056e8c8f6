"""Getting messages to the provider: throttles and breaker first, then one call per message.

`deliver` returns the messages that did not get through, each with what it raised for the
runtime to decide on: the provider refused it for good (Permanent), failed this time
(TransientSendError: an attempt spent) or the breaker is open (RetryLater: no attempt
spent). Every provider call is logged and kept as an attempt row.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import asyncpg
from common.consumer import JobContext
from common.envelope import RETRIED_FROM
from common.errors import Permanent, RetryLater

from . import store
from .breaker import Mode, Permit
from .providers import (
    Accepted,
    OutgoingSms,
    PermanentProviderError,
    TransientProviderError,
)
from .sending import Sending, sending_for


class TransientSendError(Exception):
    """The provider could not take the message this time: a failed attempt, retried."""


@dataclass(frozen=True)
class Unsent:
    """A message a delivery did not get to the provider, and what it raised."""

    sms_id: uuid.UUID
    failure: Permanent | TransientSendError | RetryLater

    @property
    def paused(self) -> bool:
        """Held back by the breaker: waits without spending an attempt."""
        return isinstance(self.failure, RetryLater)


def refused(sms_id: uuid.UUID, answer: str) -> Unsent:
    return Unsent(sms_id, Permanent(f"provider refused the message: {answer}"))


def paused(sms_id: uuid.UUID, wait: float, reason: str) -> Unsent:
    return Unsent(sms_id, RetryLater(wait, reason))


async def deliver(
    sms_ids: list[uuid.UUID], user_id: str, ctx: JobContext, *, paced: bool
) -> list[Unsent]:
    """Throttles and breaker first (waiting spends no attempt), then one provider call per
    message, all at once. Returns the messages that did not get through.

    While the breaker is closed the whole batch goes; in its probe state one message goes
    first, and the rest only once that probe closed it.
    """
    sending = sending_for(ctx.runtime)
    limiter = ctx.runtime.limiter
    provider = sending.provider
    if paced and sending.bulk_rate is not None:
        await limiter.throttle(f"sms:bulk:{user_id}", sending.bulk_rate, len(sms_ids))
    if sending.provider_rate is not None:
        await limiter.throttle(f"sms:provider:{provider.name}", sending.provider_rate, len(sms_ids))
    pending = list(sms_ids)
    unsent: list[Unsent] = []
    while pending:
        permit = await sending.breaker.permit()
        if not permit.allowed:
            reason = f"{provider.name} circuit breaker open"
            if len(pending) == len(sms_ids):
                raise RetryLater(permit.wait, reason)  # nothing sent yet: the job waits whole
            unsent += [paused(sms_id, permit.wait, reason) for sms_id in pending]
            break
        step, pending = (pending[:1], pending[1:]) if permit.mode is Mode.probe else (pending, [])
        unsent += await _send(step, permit, ctx, sending)
    return unsent


async def _send(
    sms_ids: list[uuid.UUID], permit: Permit, ctx: JobContext, sending: Sending
) -> list[Unsent]:
    pool = ctx.runtime.pool
    provider = sending.provider
    claimed = await store.claim(
        pool, sms_ids, provider.name, revive_failed=RETRIED_FROM in ctx.envelope.headers
    )
    if len(claimed) < len(sms_ids):
        ctx.log.info("sms already settled", extra={"messages": len(sms_ids) - len(claimed)})
    to_send: list[store.Claimed] = []
    for message in claimed:
        if message.opted_out:
            ctx.log.info("sms skipped: recipient opted out", extra={"sms_id": str(message.id)})
        else:
            to_send.append(message)
    if not to_send:
        await sending.breaker.release(permit)  # a probe that sent nothing proved nothing
        return []
    answers = await asyncio.gather(*(_call(message, ctx, sending) for message in to_send))

    sent = [
        store.SentAttempt(
            answer.message.id,
            answer.result.provider_id,
            answer.message.attempt,
            answer.text,
            answer.duration_ms,
        )
        for answer in answers
        if isinstance(answer.result, Accepted)
    ]
    refusals = [a for a in answers if isinstance(a.result, PermanentProviderError)]
    failures = [a for a in answers if isinstance(a.result, TransientProviderError)]
    if sent or refusals:
        await sending.breaker.succeeded(permit)  # the provider answered: it is up
    unsent: list[Unsent] = []
    for answer in refusals:
        await answer.record(pool, provider.name)
        unsent.append(refused(answer.message.id, answer.text))
    for answer in failures:
        await answer.record(pool, provider.name)
        # A failure that opens the breaker is the outage's, not the message's: wait for
        # the cooldown without spending the job's attempt.
        if await sending.breaker.failed(permit):
            reason = f"{provider.name} circuit breaker opened: {answer.text}"
            wait = sending.settings.sms_breaker_cooldown
            unsent.append(paused(answer.message.id, wait, reason))
        else:
            unsent.append(Unsent(answer.message.id, TransientSendError(answer.text)))
    if sent:
        await store.mark_sent(pool, provider.name, sent)
    return unsent


@dataclass(frozen=True)
class ProviderAnswer:
    """One provider call: what it answered (or how it failed) and how long it took."""

    message: store.Claimed
    result: Accepted | PermanentProviderError | TransientProviderError
    duration_ms: float

    @property
    def text(self) -> str:
        return self.result.answer

    async def record(self, pool: asyncpg.Pool, provider: str) -> None:
        """Keep a failed call as an attempt row (its message's fate is the runtime's)."""
        outcome = "permanent" if isinstance(self.result, PermanentProviderError) else "transient"
        await store.record_failure(
            pool,
            self.message.id,
            provider=provider,
            attempt=self.message.attempt,
            outcome=outcome,
            answer=self.text,
            duration_ms=self.duration_ms,
        )


async def _call(message: store.Claimed, ctx: JobContext, sending: Sending) -> ProviderAnswer:
    provider = sending.provider
    outgoing = OutgoingSms(
        message.id, message.to, message.sender or sending.settings.sms_default_sender, message.body
    )
    started = time.monotonic()
    result: Accepted | PermanentProviderError | TransientProviderError
    try:
        result = await provider.send(outgoing)
        outcome = "sent"
    except PermanentProviderError as refusal:
        result, outcome = refusal, "permanent"
    except TransientProviderError as trouble:
        result, outcome = trouble, "transient"
    duration_ms = round((time.monotonic() - started) * 1000, 2)
    # The seed system's per-attempt log line: sms id, attempt, provider answer, duration.
    ctx.log.info(
        "sms attempt %s",
        outcome,
        extra={
            "sms_id": str(message.id),
            "sms_attempt": message.attempt,
            "provider": provider.name,
            "provider_answer": result.answer[:200],
            "provider_ms": duration_ms,
        },
    )
    return ProviderAnswer(message, result, duration_ms)
