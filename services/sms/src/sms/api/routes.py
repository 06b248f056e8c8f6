"""HTTP routes of the sms domain: single sends, campaigns, inbound replies, receipts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import asyncpg
from common.envelope import Envelope
from common.request_body import NO_NUL, NOT_BLANK
from common.runtime import Runtime
from common.web import CurrentUser, Db, RuntimeDep
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from ..contracts import ReleaseCampaign, SendSms
from ..opt_out import keyword_of
from ..segments import segment
from ..statuses import RECEIPT_STATUSES, SmsStatus
from ..topology import SMS_CAMPAIGN, SMS_SEND
from . import store
from .bodies import (
    CampaignMessages,
    CampaignOptions,
    CampaignQueued,
    CampaignRequest,
    CampaignView,
    InboundRecorded,
    InboundRequest,
    ReceiptRecorded,
    ReceiptRequest,
    Rejected,
    SmsQueued,
    SmsRequest,
    SmsView,
)
from .campaigns import prepare
from .file_campaigns import NoValidRecipient, from_csv, from_multipart
from .limits import give_back, within_window
from .settings import sms_settings
from .upload import TooManyRecipients, UploadProblem

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


_JSON_TYPES = ("application/json", "")
_CSV_TYPES = ("text/csv", "application/csv")

# The three bodies POST /v1/campaigns reads, described by hand: the route reads the body
# itself (a CSV or multipart upload is streamed, never parsed whole).
_CAMPAIGN_BODIES: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": CampaignRequest.model_json_schema()},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "A header row naming `phone` (required) and any of `name`, "
                    "`pledge`, `paid_amount`, `balance`, `days_remain`; other columns are "
                    "ignored. UTF-8 (a byte-order mark is fine). `name`, `message` and "
                    "`sender` are query parameters.",
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "name", "message"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "The CSV file, as for text/csv"},
                        **CampaignOptions.model_json_schema()["properties"],
                    },
                },
                "encoding": {"file": {"contentType": "text/csv"}},
            },
        },
    }
}  # fmt: skip


@router.post(
    "/v1/campaigns",
    status_code=202,
    response_model=CampaignQueued,
    openapi_extra=_CAMPAIGN_BODIES,
    responses={
        413: {"description": "More than SMS_CAMPAIGN_MAX_RECIPIENTS recipients"},
        415: {
            "description": "Not JSON, CSV or multipart/form-data",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    },
)
async def create_campaign(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    name: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=NO_NUL,
            description="text/csv only: the campaign's name",
        ),
    ] = None,
    message: Annotated[
        str | None,
        Query(
            pattern=NOT_BLANK,
            description="text/csv only: the template (#name #pledge #paid_amount ...)",
        ),
    ] = None,
    sender: Annotated[
        str | None,
        Query(min_length=1, max_length=15, pattern=NO_NUL, description="text/csv only: sender id"),
    ] = None,
) -> CampaignQueued | JSONResponse:
    """Store every recipient's personalised message, then queue the campaign's release.

    Recipients come as JSON, as a CSV file (`text/csv`, options in the query) or as the
    `file` of a multipart form; a file is read and stored in batches as it arrives.
    """
    settings = sms_settings()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    counted: str | None = None  # the rate-limit key this request was counted on
    try:
        if kind in _JSON_TYPES or kind.endswith("+json"):
            body = _json_body(await request.body())
            if len(body.recipients) > settings.sms_campaign_max_recipients:
                raise TooManyRecipients(settings.sms_campaign_max_recipients)
            counted = await _campaign_allowance(runtime, user.id)
            return await _json_campaign(body, user.id, runtime)
        if kind in _CSV_TYPES:
            options = _query_options(name, message, sender)
            counted = await _campaign_allowance(runtime, user.id)
            return await from_csv(runtime, user.id, options, settings, request.stream())
        if kind == "multipart/form-data":
            counted = await _campaign_allowance(runtime, user.id)
            content_type = request.headers["content-type"]
            return await from_multipart(runtime, user.id, content_type, settings, request.stream())
    except (UploadProblem, NoValidRecipient, TooManyRecipients, ClientDisconnect) as refused:
        if counted is not None:
            await give_back(runtime.redis, counted)
        return _refusal(refused)
    return JSONResponse(
        {"detail": f"Content-Type {kind!r}: send application/json, text/csv or "
                   "multipart/form-data"},
        status_code=415,
    )  # fmt: skip


def _refusal(refused: Exception) -> JSONResponse:
    if isinstance(refused, UploadProblem):
        return _invalid(refused.field, refused.message)
    if isinstance(refused, NoValidRecipient):
        return _invalid("recipients", "no valid recipient", refused.rejected)
    if isinstance(refused, TooManyRecipients):
        return JSONResponse({"detail": str(refused)}, status_code=413)
    return JSONResponse({"detail": "the upload was interrupted"}, status_code=400)


def _json_body(raw: bytes) -> CampaignRequest:
    try:
        return CampaignRequest.model_validate_json(raw or b"null")
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_context=False)]
        ) from error


def _query_options(name: str | None, message: str | None, sender: str | None) -> CampaignOptions:
    values = {"name": name, "message": message, "sender": sender}
    try:
        return CampaignOptions.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_context=False)]
        ) from error


def _invalid(field: str, message: str, rejected: list[Rejected] | None = None) -> JSONResponse:
    payload: dict[str, Any] = {
        "detail": f"{field}: {message}",
        "errors": [{"field": field, "message": message}],
    }
    if rejected is not None:
        payload["rejected"] = [r.model_dump() for r in rejected]
    return JSONResponse(payload, status_code=422)


async def _campaign_allowance(runtime: Runtime, user_id: str) -> str | None:
    """Count the campaign against SMS_CAMPAIGNS_PER_HOUR (429 beyond); the key counted on."""
    limit = sms_settings().sms_campaigns_per_hour
    if not limit:
        return None
    key = f"{runtime.settings.redis_key_prefix}sms:campaigns:{user_id}"
    await within_window(runtime.redis, key, limit, 3600, "campaigns")
    return key


async def _json_campaign(body: CampaignRequest, user_id: str, runtime: Runtime) -> CampaignQueued:
    settings = sms_settings()
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
        raise NoValidRecipient(rejected)
    release = ReleaseCampaign(campaign_id=campaign_id)
    envelope = Envelope(message_id=f"{campaign_id}:0", user_id=user_id)
    async with runtime.pool.acquire() as connection, connection.transaction():
        await store.insert_campaign(
            connection,
            campaign_id,
            user_id,
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


@router.post("/v1/campaigns/{campaign_id}/pause")
async def pause_campaign(campaign_id: uuid.UUID, user: CurrentUser, pool: Db) -> CampaignView:
    """Stop starting the campaign's messages; those queued wait (none is dropped)."""
    return await store.control_campaign(pool, campaign_id, user.id, "pause")


@router.post("/v1/campaigns/{campaign_id}/resume")
async def resume_campaign(campaign_id: uuid.UUID, user: CurrentUser, pool: Db) -> CampaignView:
    return await store.control_campaign(pool, campaign_id, user.id, "resume")


@router.post("/v1/campaigns/{campaign_id}/cancel")
async def cancel_campaign(campaign_id: uuid.UUID, user: CurrentUser, pool: Db) -> CampaignView:
    """Messages not sent yet become `skipped` with `error: "cancelled"`; 409 once completed."""
    return await store.control_campaign(pool, campaign_id, user.id, "cancel")


@router.get("/v1/campaigns/{campaign_id}/messages")
async def campaign_messages(
    campaign_id: uuid.UUID,
    user: CurrentUser,
    pool: Db,
    status: SmsStatus | None = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,9}$", description="`next_cursor` of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CampaignMessages:
    """The campaign's messages in recipient order, a page at a time (keyset pagination:
    stable while the campaign is sending)."""
    after = int(cursor) if cursor is not None else -1
    items, last = await store.campaign_messages(
        pool, campaign_id, user.id, status.value if status else None, after, limit
    )
    return CampaignMessages(items=items, next_cursor=None if last is None else str(last))


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
