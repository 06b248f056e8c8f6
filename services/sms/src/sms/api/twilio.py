"""Twilio's own callbacks, as Twilio sends them: delivery receipts and inbound replies.

Twilio posts form-encoded fields with no Bearer key and signs each request with
`X-Twilio-Signature`: HMAC-SHA1, keyed by the account's auth token, over the URL it
called followed by every POST field sorted by name. The twilio library's RequestValidator
checks it against SMS_TWILIO_AUTH_TOKEN and the URL Twilio called, rebuilt from
SMS_TWILIO_PUBLIC_URL (the gateway's public base URL: behind a proxy the gateway's own
idea of its URL is not what Twilio called). A bad or missing signature is a 403.

https://www.twilio.com/docs/usage/webhooks/webhooks-security
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from common.web import Db
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from ..opt_out import keyword_of
from ..statuses import SmsStatus
from . import store
from .settings import sms_settings

log = logging.getLogger("relay.sms.twilio")

router = APIRouter(tags=["sms"])

STATUS_PATH = "/v1/sms/twilio/status"
INBOUND_PATH = "/v1/sms/twilio/inbound"

# Twilio's MessageStatus values that move a message; the others (queued, sending, accepted,
# scheduled, receiving, received, read, canceled) are acknowledged and left alone.
TWILIO_STATUSES: Mapping[str, SmsStatus] = {
    "sent": SmsStatus.sent,
    "delivered": SmsStatus.delivered,
    "undelivered": SmsStatus.failed,
    "failed": SmsStatus.failed,
}
# Twilio reads TwiML from a webhook's answer; an empty Response sends no reply SMS.
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_INBOUND_IDS = uuid.UUID("6f1d2a53-3b8e-4c55-9a57-2d7b8f0e9c41")
_SIGNED: dict[int | str, dict[str, Any]] = {
    403: {"description": "X-Twilio-Signature missing or not Twilio's for this URL and body"}
}


async def _signed_form(request: Request) -> dict[str, str]:
    """The callback's form fields, once its signature is Twilio's; else a 403."""
    from twilio.request_validator import RequestValidator  # only these two routes use it

    settings = sms_settings()
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    signature = request.headers.get("x-twilio-signature", "")
    if not settings.sms_twilio_auth_token or not settings.sms_twilio_public_url:
        # Not configured: nothing can be verified. Say why in the log, not to the caller.
        log.warning(
            "Twilio callback refused: SMS_TWILIO_AUTH_TOKEN and SMS_TWILIO_PUBLIC_URL must be set"
        )
        raise HTTPException(403, "signature not valid")
    url = settings.sms_twilio_public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not signature or not RequestValidator(settings.sms_twilio_auth_token).validate(
        url, fields, signature
    ):
        raise HTTPException(403, "signature not valid")
    return fields


@router.post(STATUS_PATH, responses=_SIGNED, response_class=Response)
async def twilio_status(request: Request, pool: Db) -> Response:
    """A Twilio status callback (`MessageSid`, `MessageStatus`): applied forward only, so
    the same callback twice is one update."""
    fields = await _signed_form(request)
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    status = TWILIO_STATUSES.get(fields.get("MessageStatus", "").lower())
    if sid and status is not None:
        await store.apply_receipt(pool, None, sid, status)
    return Response(status_code=200)


@router.post(INBOUND_PATH, responses=_SIGNED, response_class=Response)
async def twilio_inbound(request: Request, pool: Db) -> Response:
    """An inbound message (`From`, `Body`): STOP-like keywords opt the sender out and
    START-like ones back in, as `POST /v1/sms/inbound` does, for every user who has
    messaged that number (Twilio does not know our users)."""
    fields = await _signed_form(request)
    phone, body = fields.get("From", ""), fields.get("Body", "")
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    if phone:
        keyword = keyword_of(body)
        users = await store.users_who_messaged(pool, phone)
        if not users:
            log.info("Twilio inbound from a number nobody messaged", extra={"keyword": keyword})
        for user_id in users:
            # One row per (Twilio message, user): a callback Twilio sends again is stored once.
            inbound_id = uuid.uuid5(_INBOUND_IDS, f"{sid}:{user_id}") if sid else None
            await store.record_inbound(pool, user_id, phone, body, keyword, inbound_id)
    return Response(_EMPTY_TWIML, media_type="application/xml")
