"""Handlers of the sms queues: single sends, campaign messages, campaign release."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from common import topology
from common.consumer import JobContext, JobRouter
from common.contracts.sms import ReleaseCampaign, SendSms
from common.envelope import RETRIED_FROM, Envelope
from common.errors import Permanent, RetryLater
from common.ratelimit import Rate
from common.runtime import Runtime

from . import store
from .breaker import Breaker
from .domain import chunk_at, chunk_size, pacing_burst, wait_step
from .providers import (
    OutgoingSms,
    PermanentProviderError,
    Provider,
    TransientProviderError,
    build_provider,
)
from .settings import SmsSettings

router = JobRouter()

SMS_SEND = topology.queue("sms.send")
SMS_BULK = topology.queue("sms.bulk")
SMS_CAMPAIGN = topology.queue("sms.campaign")

_RELEASE_WINDOW = 250


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


@router.handler(SMS_SEND)
async def send_sms(job: SendSms, ctx: JobContext) -> None:
    await deliver(job, ctx, paced=False)


@router.handler(SMS_BULK)
async def send_campaign_sms(job: SendSms, ctx: JobContext) -> None:
    await deliver(job, ctx, paced=True)


async def deliver(job: SendSms, ctx: JobContext, *, paced: bool) -> None:
    """Throttles and breaker first (waiting spends no attempt), then one provider call."""
    sending = sending_for(ctx.runtime)
    limiter = ctx.runtime.limiter
    if paced and sending.bulk_rate is not None:
        await limiter.throttle(f"sms:bulk:{job.user_id}", sending.bulk_rate)
    if sending.provider_rate is not None:
        await limiter.throttle(f"sms:provider:{sending.provider.name}", sending.provider_rate)
    permit = await sending.breaker.permit()
    if not permit.allowed:
        raise RetryLater(permit.wait, f"{sending.provider.name} circuit breaker open")

    pool = ctx.runtime.pool
    provider = sending.provider
    claimed = await store.claim(
        pool, job.sms_id, provider.name, revive_failed=RETRIED_FROM in ctx.envelope.headers
    )
    if claimed is None:
        ctx.log.info("sms already settled", extra={"sms_id": str(job.sms_id)})
        return
    if claimed.opted_out:
        ctx.log.info("sms skipped: recipient opted out", extra={"sms_id": str(job.sms_id)})
        return

    outgoing = OutgoingSms(
        job.sms_id, claimed.to, claimed.sender or sending.settings.sms_default_sender, claimed.body
    )
    started = time.monotonic()
    try:
        accepted = await provider.send(outgoing)
    except PermanentProviderError as refused:
        duration_ms = _log_attempt(
            ctx, job, claimed.attempt, provider, "permanent", refused.answer, started
        )
        await sending.breaker.succeeded(permit)  # the provider answered: it is up
        await store.record_failure(
            pool,
            job.sms_id,
            provider=provider.name,
            attempt=claimed.attempt,
            outcome="permanent",
            answer=refused.answer,
            duration_ms=duration_ms,
            final=True,
        )
        raise Permanent(f"provider refused the message: {refused.answer}") from refused
    except TransientProviderError as trouble:
        duration_ms = _log_attempt(
            ctx, job, claimed.attempt, provider, "transient", trouble.answer, started
        )
        opened = await sending.breaker.failed(permit)
        max_attempts = ctx.queue.max_attempts or ctx.runtime.settings.job_max_attempts
        # A failure that opens the breaker is the outage's, not the message's: wait for
        # the cooldown without spending the job's attempt.
        final = not opened and ctx.attempt >= max_attempts
        await store.record_failure(
            pool,
            job.sms_id,
            provider=provider.name,
            attempt=claimed.attempt,
            outcome="transient",
            answer=trouble.answer,
            duration_ms=duration_ms,
            final=final,
        )
        if opened:
            raise RetryLater(
                sending.settings.sms_breaker_cooldown, f"{provider.name} circuit breaker opened"
            ) from trouble
        raise TransientSendError(trouble.answer) from trouble

    duration_ms = _log_attempt(
        ctx, job, claimed.attempt, provider, "sent", accepted.answer, started
    )
    await sending.breaker.succeeded(permit)
    await store.mark_sent(
        pool,
        job.sms_id,
        provider=provider.name,
        provider_id=accepted.provider_id,
        attempt=claimed.attempt,
        answer=accepted.answer,
        duration_ms=duration_ms,
    )


def _log_attempt(
    ctx: JobContext,
    job: SendSms,
    attempt: int,
    provider: Provider,
    outcome: str,
    answer: str,
    started: float,
) -> float:
    """The seed system's per-attempt log line: sms id, attempt, provider answer, duration."""
    duration_ms = round((time.monotonic() - started) * 1000, 2)
    ctx.log.info(
        "sms attempt %s",
        outcome,
        extra={
            "sms_id": str(job.sms_id),
            "sms_attempt": attempt,
            "provider": provider.name,
            "provider_answer": answer[:200],
            "provider_ms": duration_ms,
        },
    )
    return duration_ms


@router.handler(SMS_CAMPAIGN)
async def release_campaign(job: ReleaseCampaign, ctx: JobContext) -> None:
    """Publish one chunk's send jobs, then schedule the next chunk SMS_BULK_CHUNK_DELAY later.

    Runs in ctx.transaction(): a redelivery after the commit is skipped, and one before it
    republishes the same deterministic message ids, which the send handler settles once.
    """
    remaining = job.not_before - time.time()
    if remaining > 0:
        tiers = [tier.delay for tier in ctx.queue.tiers(ctx.runtime.settings.job_retry_delays)]
        raise RetryLater(wait_step(remaining, tiers), "chunk not due yet")
    settings = sending_for(ctx.runtime).settings
    publisher = ctx.runtime.publisher
    async with ctx.transaction() as connection:
        total = await store.campaign_total(connection, job.campaign_id)
        if total is None:
            raise Permanent(f"campaign {job.campaign_id} does not exist")
        size = chunk_size(total, settings.sms_bulk_chunk, settings.sms_bulk_direct_below)
        campaign = await store.start_release(connection, job.campaign_id, size)
        assert campaign is not None
        chunk = chunk_at(job.chunk, campaign.total, campaign.chunk_size)
        ids = await store.queued_in_chunk(connection, job.campaign_id, chunk.start, chunk.stop)
        # Confirms are awaited in windows: thousands outstanding at once on a busy broker
        # would run into PUBLISH_TIMEOUT and fail the whole release.
        for start in range(0, len(ids), _RELEASE_WINDOW):
            await asyncio.gather(
                *(
                    publisher.publish(
                        SMS_BULK,
                        SendSms(
                            sms_id=sms_id, user_id=campaign.user_id, campaign_id=job.campaign_id
                        ),
                        envelope=Envelope(message_id=str(sms_id), user_id=campaign.user_id),
                    )
                    for sms_id in ids[start : start + _RELEASE_WINDOW]
                )
            )
        if not chunk.is_last:
            following = ReleaseCampaign(
                campaign_id=job.campaign_id,
                chunk=chunk.index + 1,
                not_before=time.time() + settings.sms_bulk_chunk_delay,
            )
            await publisher.publish(
                SMS_CAMPAIGN,
                following,
                envelope=Envelope(
                    message_id=f"{job.campaign_id}:{following.chunk}", user_id=campaign.user_id
                ),
            )
        await store.mark_released(connection, job.campaign_id, chunk.index + 1)
    ctx.log.info(
        "campaign chunk released",
        extra={"campaign_id": str(job.campaign_id), "chunk": chunk.index, "messages": len(ids)},
    )
