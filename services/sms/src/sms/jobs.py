"""Handlers of the sms queues: single sends, campaign batches, campaign release.

A handler raises (or, for a batch, returns the messages that did not go, each with what
it raised); the runtime decides retry, wait or bury. When a message dies, its hook marks
it failed, which also counts it in its campaign.
"""

from __future__ import annotations

import uuid

from common.consumer import Death, JobContext, JobRouter, Unfinished
from common.errors import RetryLater

from . import store
from .contracts import ReleaseCampaign, SendSms, SendSmsBatch
from .delivery import Unsent, deliver
from .release import PAUSED_WAIT, release_chunk
from .sending import sending_for
from .topology import SMS_BULK, SMS_CAMPAIGN, SMS_SEND

router = JobRouter()


async def message_died(job: SendSms, ctx: JobContext, death: Death) -> None:
    """Its last attempt failed, or the provider refused it: the message is failed."""
    await store.fail_messages(ctx.runtime.pool, [job.sms_id], death.reason)


async def batch_died(job: SendSmsBatch, ctx: JobContext, death: Death) -> None:
    """The same for campaign messages (a part of one message, or a whole batch)."""
    await store.fail_messages(ctx.runtime.pool, job.sms_ids, death.reason)


@router.handler(SMS_SEND, on_dead=message_died)
async def send_sms(job: SendSms, ctx: JobContext) -> None:
    unsent = await deliver([job.sms_id], job.user_id, ctx, paced=False)
    if unsent:
        raise unsent[0].failure


@router.handler(SMS_BULK, on_dead=batch_died)
async def send_campaign_batch(job: SendSmsBatch, ctx: JobContext) -> list[Unfinished] | None:
    """Campaign messages: one provider call each; each one that did not go is settled on
    its own (a batch of one), and those held back by the breaker wait together."""
    if job.campaign_id is not None:
        found = await store.campaign_state(ctx.runtime.pool, job.campaign_id)
        if found is not None and found.state == "paused":
            raise RetryLater(PAUSED_WAIT, "campaign paused")  # waits, keeps its attempt
        if found is not None and found.state == "cancelled":
            # Cancelled while this job was queued or waiting for a retry: its messages
            # not yet sent are skipped, not sent.
            skipped = await store.skip_cancelled(ctx.runtime.pool, job.campaign_id, job.sms_ids)
            ctx.log.info("campaign cancelled: messages skipped", extra={"messages": skipped})
            return None
    limit = sending_for(ctx.runtime).batch_limit
    if len(job.sms_ids) > limit:
        # Settings changed since the release (a smaller pacing burst): split, or the
        # throttle would never grant the whole batch.
        return [
            Unfinished(
                _part(job, job.sms_ids[start : start + limit]),
                f"{ctx.message_id}:{start}",
                RetryLater(0, "split to the pacing burst"),
            )
            for start in range(0, len(job.sms_ids), limit)
        ]
    unsent = await deliver(job.sms_ids, job.user_id, ctx, paced=True)
    if len(job.sms_ids) == 1:
        # A batch of one is a single message's own job: it succeeds or fails whole.
        if unsent:
            raise unsent[0].failure
        return None
    return _unfinished(job, unsent)


def _unfinished(job: SendSmsBatch, unsent: list[Unsent]) -> list[Unfinished]:
    """Each message that did not go as a part of its own, but those the breaker holds back
    as one part: they wait out the cooldown together."""
    held = [message for message in unsent if message.paused]
    parts = [
        Unfinished(_part(job, [message.sms_id]), str(message.sms_id), message.failure)
        for message in unsent
        if not message.paused
    ]
    if held:
        longest = max(held, key=lambda message: getattr(message.failure, "delay", 0.0))
        parts.append(
            Unfinished(
                _part(job, [message.sms_id for message in held]),
                str(held[0].sms_id),
                longest.failure,
            )
        )
    return parts


def _part(job: SendSmsBatch, sms_ids: list[uuid.UUID]) -> SendSmsBatch:
    return SendSmsBatch(sms_ids=sms_ids, user_id=job.user_id, campaign_id=job.campaign_id)


@router.handler(SMS_CAMPAIGN)
async def release_campaign(job: ReleaseCampaign, ctx: JobContext) -> None:
    await release_chunk(job, ctx)
