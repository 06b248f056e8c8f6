"""Laravel jobs that become sms jobs, for the Laravel bridge (services/bridge; docs/laravel.md).

`SendSmsJob` (user, phone, message) becomes one SMS, `SendBulkSmsJob` (user, recipients,
message, name?) one campaign. Each enters exactly as POST /v1/sms or POST /v1/campaigns
would for the job's user (api/service.py): the same validation (E.164, segments,
SMS_MAX_SEGMENTS, rejected recipient rows), then the workers' opt-out, pacing, provider
rate and breaker. The per-user HTTP limits (SMS_RATE_PER_MINUTE, SMS_CAMPAIGNS_PER_HOUR)
are not applied: they protect the HTTP API, and the Laravel app has its own.

The Laravel `uuid` is the SMS's (or the campaign's) id: GET /v1/sms/{uuid} answers for the
job's user, and the same job twice makes one SMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from common.batching import Coalescer
from common.laravel import Created, LaravelAdapter, LaravelCall, LaravelInputError, input_error
from common.runtime import Runtime
from pydantic import ValidationError

from .api.bodies import CampaignRequest, Rejected, SmsQueued, SmsRequest
from .api.campaign_service import queue_campaign
from .api.file_campaigns import NoValidRecipient
from .api.service import IdTaken, NewSms, Queued, queue_sms_many
from .api.upload import TooManyRecipients

USER = ("userId", "user_id", "user")
PHONE = ("phone", "to", "phoneNumber", "recipient")
MESSAGE = ("message", "body", "text", "content")
RECIPIENTS = ("recipients", "phones", "numbers")
SENDER = ("sender", "senderId", "from")
# Rejected rows named in a failed job's reason, at most.
_REJECTED_SHOWN = 5


async def accept_sms(runtime: Runtime, call: LaravelCall) -> Created:
    """One SMS, as POST /v1/sms for the job's user."""
    user_id = call.user_id()
    fields = {"to": "phone", "message": "message", "sender": "sender"}
    try:
        request = SmsRequest.model_validate(
            {
                "to": call.text("phone"),
                "message": call.text("message"),
                "sender": call.optional_text("sender"),
            }
        )
    except ValidationError as error:
        raise input_error(error, fields) from None
    new = NewSms(user_id, request, call.job_id, call.envelope(str(call.job_id), user_id))
    try:
        queued = await _single_sends(runtime).submit(new)
    except IdTaken as taken:
        raise LaravelInputError("user", str(taken)) from None
    return Created("sms", queued.answer.id, queued.new)


_REFUSED_DATA = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
    asyncpg.exceptions.ProgramLimitExceededError,
)
# SMS handed over at about the same time are stored and queued together: one transaction
# and one round of confirms for up to a prefetch's worth of Laravel jobs.
_coalescers: dict[int, Coalescer[NewSms, Queued[SmsQueued]]] = {}


def _single_sends(runtime: Runtime) -> Coalescer[NewSms, Queued[SmsQueued]]:
    found = _coalescers.get(id(runtime))
    if found is None:

        async def run(batch: list[NewSms]) -> Sequence[Queued[SmsQueued] | BaseException]:
            try:
                return await queue_sms_many(runtime, batch)
            except _REFUSED_DATA:
                if len(batch) == 1:
                    raise
            # Postgres refused one message's data: each on its own, so only it fails.
            results: list[Queued[SmsQueued] | BaseException] = []
            for message in batch:
                try:
                    results += await queue_sms_many(runtime, [message])
                except _REFUSED_DATA as refused:
                    results.append(refused)  # buried with its reason, alone
            return results

        found = _coalescers[id(runtime)] = Coalescer(run, max_size=100, window=0.005)
    return found


async def accept_campaign(runtime: Runtime, call: LaravelCall) -> Created:
    """One campaign, as POST /v1/campaigns (JSON) for the job's user.

    Laravel's tries, backoff and timeout were for the whole job; in Relay every recipient's
    message is a job of its own, under the sms queues' policy: none of them is carried.
    """
    user_id = call.user_id()
    default_name = f"{call.job_class.rpartition(chr(92))[2]} {call.job_id}"
    fields = {"name": "name", "message": "message", "sender": "sender", "recipients": "recipients"}
    try:
        request = CampaignRequest.model_validate(
            {
                "name": (call.optional_text("name") or default_name)[:200],
                "message": call.text("message"),
                "sender": call.optional_text("sender"),
                "recipients": recipient_rows(call.get("recipients")),
            }
        )
    except ValidationError as error:
        raise input_error(error, fields) from None
    try:
        queued = await queue_campaign(
            runtime,
            user_id,
            request,
            campaign_id=call.job_id,
            carried=call.envelope(f"{call.job_id}:0", user_id, carry_policy=False),
        )
    except NoValidRecipient as refused:
        raise LaravelInputError(
            "recipients", f"no valid recipient ({_rows(refused.rejected)})"
        ) from None
    except TooManyRecipients as refused:
        raise LaravelInputError("recipients", str(refused)) from None
    except IdTaken as taken:
        raise LaravelInputError("user", str(taken)) from None
    return Created("campaign", queued.answer.id, queued.new)


def recipient_rows(value: Any) -> list[Any]:
    """The campaign's recipient rows from a Laravel array: phone numbers, or arrays with
    `phone` (or `to`) and the placeholders. A row that is neither is kept as it is, to be
    rejected (and reported) on its own, as a bad row of an HTTP request is."""
    if value is None:
        raise LaravelInputError("recipients", "is missing")
    if isinstance(value, dict):
        value = list(value.values())  # an array keyed by something else than 0..n-1
    if not isinstance(value, list):
        raise LaravelInputError("recipients", "must be an array of numbers or of rows")
    rows: list[Any] = []
    for row in value:
        if isinstance(row, str | int) and not isinstance(row, bool):
            rows.append({"phone": row})
        elif isinstance(row, dict) and "phone" not in row and "to" in row:
            rows.append({"phone": row["to"], **{k: v for k, v in row.items() if k != "to"}})
        else:
            rows.append(row)
    return rows


def _rows(rejected: list[Rejected]) -> str:
    shown = "; ".join(f"row {r.row} ({r.phone}): {r.error}" for r in rejected[:_REJECTED_SHOWN])
    more = len(rejected) - _REJECTED_SHOWN
    return shown + (f"; and {more} more" if more > 0 else "")


CARRIED_SMS = "attempts, $tries, $backoff, $timeout, retryUntil()"

ADAPTERS = (
    LaravelAdapter(
        kind="sms",
        classes=("SendSmsJob",),
        fields={"user": USER, "phone": PHONE, "message": MESSAGE, "sender": SENDER},
        accept=accept_sms,
        carried=CARRIED_SMS,
    ),
    LaravelAdapter(
        kind="campaign",
        classes=("SendBulkSmsJob",),
        fields={
            "user": USER,
            "recipients": RECIPIENTS,
            "message": MESSAGE,
            "name": ("name",),
            "sender": SENDER,
        },
        accept=accept_campaign,
        carried="nothing: each recipient's message runs under the sms queues' policy",
    ),
)
