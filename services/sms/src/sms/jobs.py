"""Handlers of the sms queues: single sends, campaign messages, campaign release."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from common.consumer import JobContext, JobRouter
from common.envelope import RETRIED_FROM, Envelope
from common.errors import Permanent, RetryLater
from common.ratelimit import Rate
from common.runtime import Runtime

from . import store
from .breaker import Breaker, Mode, Permit
from .contracts import ReleaseCampaign, SendSms, SendSmsBatch
from .domain import (
    chunk_at,
    chunk_at_span,
    chunk_size,
    chunks_per_release,
    pacing_burst,
    wait_step,
)
from .providers import (
    Accepted,
    OutgoingSms,
    PermanentProviderError,
    Provider,
    TransientProviderError,
    build_provider,
)
from .settings import SmsSettings
from .topology import SMS_BULK, SMS_CAMPAIGN, SMS_SEND

router = JobRouter()


_RELEASE_WINDOW = 100
# The most recipients one release job publishes when chunks are not spaced in time.
_RELEASE_MAX = 5000
# How long a paused campaign's jobs wait before looking again (a RetryLater: no attempt).
PAUSED_WAIT = 5.0


class TransientSendError(Exception):
    """The provider could not take the message this time: a failed attempt, retried."""


@dataclass
class Sending:
    """What a worker process builds once: its settings, provider client and breaker."""

    settings: SmsSettings
    provider: Provider
    breaker: Breaker
    bulk_rate: Rate | None
    provider_rate: Rate | None

    @property
    def batch_limit(self) -> int:
        """The most messages one job may send: a throttle never grants more than its burst."""
        limits = [self.settings.sms_bulk_batch]
        limits += [
            rate.burst for rate in (self.bulk_rate, self.provider_rate) if rate and rate.burst
        ]
        return max(1, min(limits))


_sending: dict[int, Sending] = {}


def sending_for(runtime: Runtime) -> Sending:
    found = _sending.get(id(runtime))
    if found is not None:
        return found
    settings = runtime.settings if isinstance(runtime.settings, SmsSettings) else SmsSettings()
    provider = build_provider(settings)
    per_hour = settings.sms_bulk_per_hour
    rate = settings.sms_provider_rate
    created = Sending(
        settings=settings,
        provider=provider,
        breaker=Breaker(
            runtime.redis,
            settings.redis_key_prefix,
            provider.name,
            settings.sms_breaker_failures,
            settings.sms_breaker_cooldown,
            probe_ttl=settings.sms_http_timeout + 5,
        ),
        bulk_rate=(
            Rate(per_hour, 3600, burst=pacing_burst(per_hour, settings.sms_bulk_burst))
            if per_hour
            else None
        ),
        provider_rate=Rate(rate, 1, burst=max(1, int(rate))) if rate else None,
    )
    _sending[id(runtime)] = created
    return created


class Verdict(StrEnum):
    refused = "refused"  # the provider refused it for good (a 4xx): failed, never retried
    failed = "failed"  # a transient failure: the attempt is spent
    paused = "paused"  # the breaker is (or just went) open: wait, no attempt spent


@dataclass(frozen=True)
class Unsent:
    """A message a delivery did not get to the provider, and what should happen to it."""

    sms_id: uuid.UUID
    verdict: Verdict
    reason: str
    wait: float = 0.0  # for `paused`: how long the breaker stays open


@router.handler(SMS_SEND)
async def send_sms(job: SendSms, ctx: JobContext) -> None:
    unsent = await deliver([job.sms_id], job.user_id, ctx, paced=False)
    if unsent:
        _raise_for(unsent[0])


@router.handler(SMS_BULK)
async def send_campaign_batch(job: SendSmsBatch, ctx: JobContext) -> None:
    """Campaign messages: one provider call each; each failed one is retried on its own."""
    sending = sending_for(ctx.runtime)
    if job.campaign_id is not None:
        found = await store.campaign_state(ctx.runtime.pool, job.campaign_id)
        if found is not None and found.state == "paused":
            raise RetryLater(PAUSED_WAIT, "campaign paused")  # waits, keeps its attempt
        if found is not None and found.state == "cancelled":
            # Cancelled while this job was queued or waiting for a retry: its messages
            # not yet sent are skipped, not sent.
            skipped = await store.skip_cancelled(ctx.runtime.pool, job.campaign_id, job.sms_ids)
            ctx.log.info("campaign cancelled: messages skipped", extra={"messages": skipped})
            return
    if len(job.sms_ids) > sending.batch_limit:
        # Settings changed since the release (a smaller pacing burst): split, or the
        # throttle would never grant the whole batch.
        await _split(job, ctx, sending.batch_limit)
        return
    unsent = await deliver(job.sms_ids, job.user_id, ctx, paced=True)
    if len(job.sms_ids) == 1:
        # A batch of one is a single message's own job: let the runtime retry or bury it.
        if unsent:
            _raise_for(unsent[0])
        return
    paused = [message for message in unsent if message.verdict is Verdict.paused]
    if paused:
        # The breaker is open: they wait together, as one batch, without spending an attempt.
        await ctx.defer(
            _part(job, [message.sms_id for message in paused]),
            message_id=str(paused[0].sms_id),
            delay=max(message.wait for message in paused),
            attempt=ctx.attempt,
            error=paused[0].reason,
        )
    await asyncio.gather(
        *(
            _settle_alone(message, job, ctx)
            for message in unsent
            if message.verdict is not Verdict.paused
        )
    )


def _part(job: SendSmsBatch, sms_ids: list[uuid.UUID]) -> SendSmsBatch:
    return SendSmsBatch(sms_ids=sms_ids, user_id=job.user_id, campaign_id=job.campaign_id)


def _raise_for(unsent: Unsent) -> None:
    if unsent.verdict is Verdict.refused:
        raise Permanent(f"provider refused the message: {unsent.reason}")
    if unsent.verdict is Verdict.paused:
        raise RetryLater(unsent.wait, unsent.reason)
    raise TransientSendError(unsent.reason)


async def _settle_alone(unsent: Unsent, job: SendSmsBatch, ctx: JobContext) -> None:
    """Give a failed message of a batch its own job: retried or buried like a single one."""
    part = _part(job, [unsent.sms_id])
    message_id = str(unsent.sms_id)
    if unsent.verdict is Verdict.refused:
        error = f"Permanent: provider refused the message: {unsent.reason}"
        await ctx.bury(part, message_id=message_id, error=error, attempts=ctx.attempt)
    elif ctx.attempt >= ctx.max_attempts:
        error = f"TransientSendError: {unsent.reason}"
        await ctx.bury(part, message_id=message_id, error=error, attempts=ctx.attempt)
    else:
        await ctx.defer(
            part,
            message_id=message_id,
            delay=ctx.retry_delay(ctx.attempt),
            attempt=ctx.attempt + 1,
            error=unsent.reason,
        )


async def _split(job: SendSmsBatch, ctx: JobContext, size: int) -> None:
    for start in range(0, len(job.sms_ids), size):
        part = _part(job, job.sms_ids[start : start + size])
        await ctx.defer(part, message_id=f"{ctx.message_id}:{start}", delay=0, attempt=ctx.attempt)


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
            unsent += [Unsent(sms_id, Verdict.paused, reason, permit.wait) for sms_id in pending]
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
    refused = [answer for answer in answers if isinstance(answer.result, PermanentProviderError)]
    failed = [answer for answer in answers if isinstance(answer.result, TransientProviderError)]
    if sent or refused:
        await sending.breaker.succeeded(permit)  # the provider answered: it is up
    unsent: list[Unsent] = []
    for answer in refused:
        await answer.record_failure(pool, provider.name, final=True)
        unsent.append(Unsent(answer.message.id, Verdict.refused, answer.text))
    for answer in failed:
        # A failure that opens the breaker is the outage's, not the message's: wait for
        # the cooldown without spending the job's attempt.
        if await sending.breaker.failed(permit):
            reason = f"{provider.name} circuit breaker opened: {answer.text}"
            await answer.record_failure(pool, provider.name, final=False)
            unsent.append(
                Unsent(
                    answer.message.id, Verdict.paused, reason, sending.settings.sms_breaker_cooldown
                )
            )
        else:
            await answer.record_failure(pool, provider.name, final=ctx.attempt >= ctx.max_attempts)
            unsent.append(Unsent(answer.message.id, Verdict.failed, answer.text))
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

    async def record_failure(self, pool: asyncpg.Pool, provider: str, *, final: bool) -> None:
        outcome = "permanent" if isinstance(self.result, PermanentProviderError) else "transient"
        await store.record_failure(
            pool,
            self.message.id,
            provider=provider,
            attempt=self.message.attempt,
            outcome=outcome,
            answer=self.text,
            duration_ms=self.duration_ms,
            final=final,
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
    except PermanentProviderError as refused:
        result, outcome = refused, "permanent"
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


@router.handler(SMS_CAMPAIGN)
async def release_campaign(job: ReleaseCampaign, ctx: JobContext) -> None:
    """Publish one chunk's send jobs, then schedule the next chunk SMS_BULK_CHUNK_DELAY later.

    Runs in ctx.transaction(): a redelivery after the commit is skipped, and one before it
    republishes the same deterministic message ids, which the send handler settles once.
    A paused campaign's release waits; a cancelled one's stops (its queued recipients are
    skipped).
    """
    remaining = job.not_before - time.time()
    if remaining > 0:
        tiers = [tier.delay for tier in ctx.queue.tiers(ctx.runtime.settings.job_retry_delays)]
        raise RetryLater(wait_step(remaining, tiers), "chunk not due yet")
    settings = sending_for(ctx.runtime).settings
    publisher = ctx.runtime.publisher
    found = await store.campaign_state(ctx.runtime.pool, job.campaign_id)
    if found is None:
        raise Permanent(f"campaign {job.campaign_id} does not exist")
    if found.state == "paused":
        raise RetryLater(PAUSED_WAIT, "campaign paused")
    async with ctx.transaction() as connection:
        if found.state == "cancelled":
            await store.skip_cancelled(connection, job.campaign_id)
            return
        size = chunk_size(found.total, settings.sms_bulk_chunk, settings.sms_bulk_direct_below)
        campaign = await store.start_release(connection, job.campaign_id, size)
        assert campaign is not None
        chunk = chunk_at(job.chunk, campaign.total, campaign.chunk_size)
        # Chunks not spaced in time (SMS_BULK_CHUNK_DELAY 0) are released several per job:
        # one release per 50 recipients would make the release chain the bottleneck. The
        # count is fixed by the settings, so a redelivered release publishes the same ids.
        if not settings.sms_bulk_chunk_delay:
            chunks = chunks_per_release(campaign.chunk_size, _RELEASE_MAX)
            chunk = chunk_at_span(job.chunk, chunks, campaign.total, campaign.chunk_size)
        ids = await store.queued_in_chunk(connection, job.campaign_id, chunk.start, chunk.stop)
        # One job per batch of recipients; confirms awaited in windows: thousands
        # outstanding at once on a busy broker would run into PUBLISH_TIMEOUT.
        size = sending_for(ctx.runtime).batch_limit
        batches = [ids[start : start + size] for start in range(0, len(ids), size)]
        for window in range(0, len(batches), _RELEASE_WINDOW):
            await asyncio.gather(
                *(
                    publisher.publish(
                        SMS_BULK,
                        SendSmsBatch(
                            sms_ids=batch, user_id=campaign.user_id, campaign_id=job.campaign_id
                        ),
                        # Deterministic: a release redelivered before its commit republishes
                        # the same batches, whose messages the send handler settles once.
                        envelope=Envelope(message_id=str(batch[0]), user_id=campaign.user_id),
                    )
                    for batch in batches[window : window + _RELEASE_WINDOW]
                )
            )
        if not chunk.is_last:
            following = ReleaseCampaign(
                campaign_id=job.campaign_id,
                chunk=chunk.next_index,
                not_before=time.time() + settings.sms_bulk_chunk_delay,
            )
            await publisher.publish(
                SMS_CAMPAIGN,
                following,
                envelope=Envelope(
                    message_id=f"{job.campaign_id}:{following.chunk}", user_id=campaign.user_id
                ),
            )
        await store.mark_released(connection, job.campaign_id, chunk.next_index)
    ctx.log.info(
        "campaign chunk released",
        extra={"campaign_id": str(job.campaign_id), "chunk": chunk.index, "messages": len(ids)},
    )
