"""Releasing a campaign, chunk by chunk: one chunk's send jobs published, then the next
chunk's release scheduled SMS_BULK_CHUNK_DELAY later."""

from __future__ import annotations

import asyncio
import time

from common.consumer import JobContext
from common.envelope import Envelope
from common.errors import Permanent, RetryLater

from . import store
from .contracts import ReleaseCampaign, SendSmsBatch
from .domain import chunk_at, chunk_at_span, chunk_size, chunks_per_release
from .sending import sending_for
from .topology import SMS_BULK, SMS_CAMPAIGN

# Send jobs published at once, their confirms awaited together: thousands outstanding at
# once on a busy broker would run into PUBLISH_TIMEOUT.
_RELEASE_WINDOW = 100
# The most recipients one release job publishes when chunks are not spaced in time.
_RELEASE_MAX = 5000
# How long a paused campaign's jobs wait before looking again (a RetryLater: no attempt).
PAUSED_WAIT = 5.0


async def release_chunk(job: ReleaseCampaign, ctx: JobContext) -> None:
    """Publish one chunk's send jobs, then the next chunk's release, in ctx.transaction():
    a redelivery after the commit is skipped, and one before it republishes the same
    deterministic message ids, which the send handler settles once. A paused campaign's
    release waits; a cancelled one's stops (its queued recipients are skipped)."""
    remaining = job.not_before - time.time()
    if remaining > 0:
        raise RetryLater(remaining, "chunk not due yet")
    sending = sending_for(ctx.runtime)
    settings = sending.settings
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
        size = sending.batch_limit
        batches = [ids[start : start + size] for start in range(0, len(ids), size)]
        publisher = ctx.runtime.publisher
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
