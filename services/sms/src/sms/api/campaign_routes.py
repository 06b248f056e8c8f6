"""HTTP routes of sms campaigns: create (JSON, CSV or multipart upload), progress,
pause / resume / cancel, and the campaign's messages page by page."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from common.request_body import NO_NUL, NOT_BLANK
from common.runtime import Runtime
from common.web import CurrentUser, Db, RuntimeDep
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from ..statuses import SmsStatus
from . import campaign_store
from .bodies import (
    CampaignMessages,
    CampaignOptions,
    CampaignQueued,
    CampaignRequest,
    CampaignView,
    Rejected,
)
from .campaign_service import check_campaign_size, queue_campaign
from .file_campaigns import NoValidRecipient, from_csv, from_multipart
from .limits import give_back, within_window
from .settings import sms_settings
from .upload import TooManyRecipients, UploadProblem

router = APIRouter(tags=["sms"])

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
            check_campaign_size(len(body.recipients))  # 413 before the request is counted
            counted = await _campaign_allowance(runtime, user.id)
            queued = await queue_campaign(runtime, user.id, body)
            return queued.answer
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


@router.get("/v1/campaigns/{campaign_id}")
async def get_campaign(campaign_id: uuid.UUID, user: CurrentUser, pool: Db) -> CampaignView:
    return await campaign_store.get_campaign(pool, campaign_id, user.id)


@router.post("/v1/campaigns/{campaign_id}/pause")
async def pause_campaign(campaign_id: uuid.UUID, user: CurrentUser, pool: Db) -> CampaignView:
    """Stop starting the campaign's messages; those queued wait (none is dropped)."""
    return await campaign_store.control_campaign(pool, campaign_id, user.id, "pause")


@router.post("/v1/campaigns/{campaign_id}/resume")
async def resume_campaign(campaign_id: uuid.UUID, user: CurrentUser, pool: Db) -> CampaignView:
    return await campaign_store.control_campaign(pool, campaign_id, user.id, "resume")


@router.post("/v1/campaigns/{campaign_id}/cancel")
async def cancel_campaign(campaign_id: uuid.UUID, user: CurrentUser, pool: Db) -> CampaignView:
    """Messages not sent yet become `skipped` with `error: "cancelled"`; 409 once completed."""
    return await campaign_store.control_campaign(pool, campaign_id, user.id, "cancel")


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
    items, last = await campaign_store.campaign_messages(
        pool, campaign_id, user.id, status.value if status else None, after, limit
    )
    return CampaignMessages(items=items, next_cursor=None if last is None else str(last))
