"""HTTP routes of the sms domain: single sends, campaigns, inbound replies, receipts."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from common.envelope import Envelope
from common.web import CurrentUser, Db, RuntimeDep
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..contracts import RECEIPT_STATUSES, ReleaseCampaign, SendSms, keyword_of, segment
from ..topology import SMS_CAMPAIGN, SMS_SEND
from . import store
from .bodies import (
    CampaignQueued,
    CampaignRequest,
    CampaignView,
    InboundRecorded,
    InboundRequest,
    ReceiptRecorded,
    ReceiptRequest,
    SmsQueued,
    SmsRequest,
    SmsView,
)
from .campaigns import prepare
from .limits import within_window
from .settings import sms_settings

router = APIRouter(tags=["sms"])


@router.post("/v1/sms", status_code=202)
async def send_sms(body: SmsRequest, user: CurrentUser, pool: Db, runtime: RuntimeDep) -> SmsQueued:
    """Queue one SMS; 202 once RabbitMQ has confirmed the job."""
    settings = sms_settings()
    if settings.sms_rate_per_minute:
        await within_window(
            runtime.redis,
            f"{runtime.settings.redis_key_prefix}sms:sends:{user.id}",
            settings.sms_rate_per_minute,
            60,
            "single sends",
        )
    parts = segment(body.message)
    sms_id = uuid.uuid4()
    job = SendSms(sms_id=sms_id, user_id=user.id)
    envelope = Envelope(message_id=str(sms_id), user_id=user.id)
    # The row and its job in one transaction (the outbox): never one without the other.
    async with pool.acquire() as connection, connection.transaction():
        await store.insert_sms(
            connection,
            sms_id,
            user.id,
            body.to,
            body.sender,
            body.message,
            parts.segments,
            parts.encoding,
        )
        staged = await runtime.outbox.stage(connection, [(SMS_SEND, job, envelope)])

    async def undo(connection: asyncpg.Connection) -> None:
        await store.delete_sms(connection, sms_id)  # nothing queued: leave nothing behind

    await runtime.outbox.send_or_withdraw(staged, undo)
    return SmsQueued(
        id=sms_id, to=body.to, status="queued", segments=parts.segments, encoding=parts.encoding
    )


@router.get("/v1/sms/{sms_id}")
async def get_sms(sms_id: uuid.UUID, user: CurrentUser, pool: Db) -> SmsView:
    return await store.get_sms(pool, sms_id, user.id)


@router.post("/v1/campaigns", status_code=202, response_model=CampaignQueued)
async def create_campaign(
    body: CampaignRequest,
    user: CurrentUser,
    pool: Db,
    runtime: RuntimeDep,
) -> CampaignQueued | JSONResponse:
    """Store every recipient's personalised message, then queue the campaign's release."""
    settings = sms_settings()
    if settings.sms_campaigns_per_hour:
        await within_window(
            runtime.redis,
            f"{runtime.settings.redis_key_prefix}sms:campaigns:{user.id}",
            settings.sms_campaigns_per_hour,
            3600,
            "campaigns",
        )
    campaign_id = uuid.uuid4()
    # Thousands of numbers to parse: off the event loop, so other requests keep flowing.
    messages, rejected = await asyncio.to_thread(
        prepare,
        campaign_id,
        body.message,
        body.recipients,
        settings.sms_default_region,
        settings.sms_max_segments,
    )
    if not messages:
        return JSONResponse(
            {
                "detail": "recipients: no valid recipient",
                "errors": [{"field": "recipients", "message": "no valid recipient"}],
                "rejected": [r.model_dump() for r in rejected],
            },
            status_code=422,
        )
    release = ReleaseCampaign(campaign_id=campaign_id)
    envelope = Envelope(message_id=f"{campaign_id}:0", user_id=user.id)
    async with pool.acquire() as connection, connection.transaction():
        await store.insert_campaign(
            connection,
            campaign_id,
            user.id,
            body.name,
            body.message,
            body.sender,
            messages,
            rejected,
        )
        staged = await runtime.outbox.stage(connection, [(SMS_CAMPAIGN, release, envelope)])

    async def undo(connection: asyncpg.Connection) -> None:
        await store.delete_campaign(connection, campaign_id)

    await runtime.outbox.send_or_withdraw(staged, undo)
    return CampaignQueued(
        id=campaign_id, name=body.name, total=len(messages), status="queued", rejected=rejected
    )


@router.get("/v1/campaigns/{campaign_id}")
async def get_campaign(campaign_id: uuid.UUID, user: CurrentUser, pool: Db) -> CampaignView:
    return await store.get_campaign(pool, campaign_id, user.id)


@router.post("/v1/sms/inbound", response_model_by_alias=True)
async def inbound(body: InboundRequest, user: CurrentUser, pool: Db) -> InboundRecorded:
    """Record a reply; STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT opt out, START, YES, UNSTOP opt in."""
    keyword = keyword_of(body.body)
    inbound_id, opted_out = await store.record_inbound(
        pool, user.id, body.from_, body.body, keyword
    )
    return InboundRecorded(id=inbound_id, from_=body.from_, keyword=keyword, opted_out=opted_out)


@router.post("/v1/sms/status")
async def delivery_receipt(body: ReceiptRequest, user: CurrentUser, pool: Db) -> ReceiptRecorded:
    """A provider's delivery receipt: applied only if it moves the status forward."""
    status = RECEIPT_STATUSES[body.status]
    matched, applied = await store.apply_receipt(
        pool, None if user.admin else user.id, body.provider_id, status
    )
    return ReceiptRecorded(
        provider_id=body.provider_id, status=status.value, matched=matched, applied=applied
    )
