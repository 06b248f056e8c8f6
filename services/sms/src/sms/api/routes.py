"""HTTP routes of the sms domain: single sends, inbound replies, delivery receipts; the
campaign routes (campaign_routes.py) are included here, so the gateway mounts one router."""

from __future__ import annotations

import uuid

from common.web import CurrentUser, Db, RuntimeDep
from fastapi import APIRouter

from ..opt_out import keyword_of
from ..statuses import RECEIPT_STATUSES
from . import campaign_routes, store
from .bodies import (
    InboundRecorded,
    InboundRequest,
    ReceiptRecorded,
    ReceiptRequest,
    SmsQueued,
    SmsRequest,
    SmsView,
)
from .limits import within_window
from .service import queue_sms
from .settings import sms_settings

router = APIRouter(tags=["sms"])


@router.post("/v1/sms", status_code=202)
async def send_sms(body: SmsRequest, user: CurrentUser, runtime: RuntimeDep) -> SmsQueued:
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
    return (await queue_sms(runtime, user.id, body)).answer


@router.get("/v1/sms/{sms_id}")
async def get_sms(sms_id: uuid.UUID, user: CurrentUser, pool: Db) -> SmsView:
    return await store.get_sms(pool, sms_id, user.id)


router.include_router(campaign_routes.router)


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
