"""What a request for one campaign does, whoever asks (POST /v1/campaigns, a Laravel
SendBulkSmsJob): its recipients normalised, personalised and stored, its release queued.
With a campaign id given, the same id twice makes one campaign (service.py says how)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
from common.envelope import Envelope
from common.runtime import Runtime

from ..contracts import ReleaseCampaign
from ..topology import SMS_CAMPAIGN
from . import campaign_store
from .bodies import CampaignQueued, CampaignRequest, Rejected
from .campaigns import prepare
from .file_campaigns import NoValidRecipient
from .service import IdTaken, Queued, carried_envelope
from .settings import sms_settings
from .upload import TooManyRecipients


def check_campaign_size(recipients: int) -> None:
    """TooManyRecipients (413) past SMS_CAMPAIGN_MAX_RECIPIENTS."""
    limit = sms_settings().sms_campaign_max_recipients
    if recipients > limit:
        raise TooManyRecipients(limit)


async def queue_campaign(
    runtime: Runtime,
    user_id: str,
    request: CampaignRequest,
    *,
    campaign_id: uuid.UUID | None = None,
    carried: Envelope | None = None,
) -> Queued[CampaignQueued]:
    """Store a campaign and every recipient's personalised message, then queue its release.

    Rejected rows are reported, not fatal; NoValidRecipient when none is left, and
    TooManyRecipients past SMS_CAMPAIGN_MAX_RECIPIENTS.
    """
    settings = sms_settings()
    check_campaign_size(len(request.recipients))
    campaign_id = campaign_id or uuid.uuid4()
    # Thousands of numbers to parse: off the event loop, so other requests keep flowing.
    messages, rejected = await asyncio.to_thread(
        prepare,
        campaign_id,
        request.message,
        request.recipients,
        settings.sms_default_region,
        settings.sms_max_segments,
    )
    if not messages:
        raise NoValidRecipient(rejected)
    release = ReleaseCampaign(campaign_id=campaign_id)
    envelope = carried_envelope(f"{campaign_id}:0", user_id, carried)
    async with runtime.pool.acquire() as connection, connection.transaction():
        inserted = await campaign_store.insert_campaign(
            connection,
            campaign_id,
            user_id,
            request.name,
            request.message,
            request.sender,
            messages,
            rejected,
        )
        staged = (
            await runtime.outbox.stage(connection, [(SMS_CAMPAIGN, release, envelope)])
            if inserted
            else []
        )
        existing = (
            None if inserted else await campaign_store.stored_campaign(connection, campaign_id)
        )
    if existing is not None:
        return Queued(_queued_before(user_id, existing, campaign_id), new=False)

    async def undo(connection: asyncpg.Connection) -> None:
        await campaign_store.delete_campaign(connection, campaign_id)

    await runtime.outbox.send_or_withdraw(staged, undo)
    answer = CampaignQueued(
        id=campaign_id, name=request.name, total=len(messages), status="queued", rejected=rejected
    )
    return Queued(answer)


def _queued_before(user_id: str, existing: Any, campaign_id: uuid.UUID) -> CampaignQueued:
    """The campaign an earlier call with the same id stored."""
    if existing["user_id"] != user_id:
        raise IdTaken(f"campaign id {campaign_id} belongs to another user")
    return CampaignQueued(
        id=campaign_id,
        name=existing["name"],
        total=existing["total"],
        status="queued",
        rejected=[Rejected.model_validate(row) for row in json.loads(existing["rejected"])],
    )
