"""HTTP routes of the payments domain: payments, and the providers' webhooks.

A webhook is answered 2xx only once its event is stored (unique per provider and event
id) and its processing job is confirmed by RabbitMQ; before that the provider keeps
retrying, so no event is lost. A signature that does not verify stores nothing.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Annotated, Any

import asyncpg
from common.envelope import Envelope, Job
from common.errors import BrokerUnavailable, NotFound
from common.request_body import RequestBody, Text
from common.runtime import Runtime
from common.web import CurrentUser, RuntimeDep
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BeforeValidator, Field, ValidationError, field_validator

from ..contracts import (
    ProcessMonetbilCallback,
    ProcessStripeEvent,
    Provider,
    StripeEvent,
    monetbil_message_id,
    stripe_message_id,
)
from ..signatures import InvalidSignature, verify_monetbil, verify_stripe
from ..topology import MONETBIL, STRIPE
from .settings import payments_settings
from .store import PaymentView, create_payment, get_payment, store_event

log = logging.getLogger("relay.payments.webhooks")
router = APIRouter(tags=["payments"])


def _integral(value: object) -> object:
    """`245278.0` is the integer 245278, as JSON Schema's `integer` says (some JSON encoders
    write every number with a point); `245278.5` and `"245278"` stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class CreatePayment(RequestBody):
    amount: Annotated[int, BeforeValidator(_integral)] = Field(
        gt=0, le=10**15, strict=True, description="in minor units"
    )
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, e.g. USD, XAF")
    provider: Provider
    reference: Text = Field(min_length=1, max_length=200)

    @field_validator("currency")
    @classmethod
    def upper(cls, value: str) -> str:
        return value.upper()


@router.post("/v1/payments", status_code=201)
async def create(body: CreatePayment, user: CurrentUser, runtime: RuntimeDep) -> PaymentView:
    return await create_payment(
        runtime.pool,
        user_id=user.id,
        amount=body.amount,
        currency=body.currency,
        provider=body.provider,
        reference=body.reference,
    )


@router.get("/v1/payments/{payment_id}")
async def show(payment_id: uuid.UUID, user: CurrentUser, runtime: RuntimeDep) -> PaymentView:
    payment = await get_payment(runtime.pool, payment_id, user.id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def _ingest(
    runtime: Runtime,
    *,
    provider: Provider,
    event_id: str,
    event_type: str,
    payload_json: str,
    payment_id: str | None,
    transaction_id: str | None,
    job: Job,
    message_id: str,
) -> None:
    """Store the event with its job (the outbox), then publish the job.

    When the publish is not confirmed the answer is 503, yet the stored job stays: the
    outbox sweeper publishes it once the broker is back, so the event is applied even if
    the provider never resends. A known but unfinished event is queued again: a duplicate
    job is harmless since it carries the same message id and processing is idempotent.
    """
    queue = STRIPE if provider is Provider.stripe else MONETBIL
    try:
        async with runtime.pool.acquire() as connection, connection.transaction():
            inserted, pending = await store_event(
                connection,
                provider=provider,
                event_id=event_id,
                event_type=event_type,
                payload_json=payload_json,
                payment_id=_uuid(payment_id),
                transaction_id=transaction_id,
            )
            staged = (
                await runtime.outbox.stage(
                    connection, [(queue, job, Envelope(message_id=message_id))]
                )
                if inserted
                else []
            )
    except asyncpg.DataError as invalid:
        # e.g. a \u0000 in a string, which Postgres' jsonb cannot hold. The database's own
        # words stay in the log: the caller is anonymous.
        log.warning("webhook event cannot be stored", extra={"error": str(invalid)})
        raise HTTPException(
            400, "the event cannot be stored (it holds text Postgres cannot keep, e.g. NUL)"
        ) from invalid
    fields = {
        "provider": provider.value,
        "event_id": event_id,
        "event_type": event_type,
        "payment_id": payment_id,
        "transaction_id": transaction_id,
    }
    if staged:
        try:
            await runtime.outbox.send(staged)
        except BrokerUnavailable as down:
            log.warning("webhook event stored; its job waits for the broker", extra=fields)
            raise HTTPException(
                503,
                "the job queue is unavailable: the event is stored and will be processed "
                "once it is back; resending it is safe",
                headers={"Retry-After": "5"},
            ) from down
        log.info("webhook event queued", extra=fields)
    elif pending:
        await runtime.publisher.publish(queue, job, envelope=Envelope(message_id=message_id))
        log.info("webhook event queued again", extra=fields)
    else:
        log.info("webhook event already processed", extra=fields)


# A provider's callback that cannot be verified or read is the provider's 400 (Stripe and
# Monetbil retry on anything but 2xx, and show the reason in their dashboards).
REJECTED: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad signature, or not an event this endpoint accepts"}
}


@router.post("/v1/webhooks/stripe", responses=REJECTED)
async def stripe_webhook(
    request: Request,
    runtime: RuntimeDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> dict[str, bool]:
    payload = await request.body()
    config = payments_settings()
    try:
        verify_stripe(
            payload,
            stripe_signature,
            config.stripe_secrets,
            tolerance=config.stripe_webhook_tolerance,
            now=time.time(),
        )
    except InvalidSignature as invalid:
        log.warning("stripe webhook refused", extra={"reason": str(invalid)})
        raise HTTPException(400, f"invalid signature: {invalid.public}") from invalid
    try:
        event = StripeEvent.model_validate_json(payload)
    except ValidationError as invalid:
        raise HTTPException(
            400, "the body is not a Stripe event (a JSON object with id and type)"
        ) from invalid
    await _ingest(
        runtime,
        provider=Provider.stripe,
        event_id=event.id,
        event_type=event.type,
        payload_json=payload.decode(),
        payment_id=event.payment_id,
        transaction_id=event.transaction_id,
        job=ProcessStripeEvent(event_id=event.id, type=event.type),
        message_id=stripe_message_id(event.id),
    )
    return {"received": True}


@router.post("/v1/webhooks/monetbil", response_class=PlainTextResponse, responses=REJECTED)
async def monetbil_webhook(request: Request, runtime: RuntimeDep) -> PlainTextResponse:
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        verify_monetbil(fields, payments_settings().monetbil_service_secret)
    except InvalidSignature as invalid:
        log.warning("monetbil callback refused", extra={"reason": str(invalid)})
        raise HTTPException(403, f"invalid sign: {invalid.public}") from invalid
    transaction_id = fields.get("transaction_id", "").strip()
    if not transaction_id or len(transaction_id) > 255:
        raise HTTPException(400, "transaction_id: a Monetbil callback needs a transaction_id")
    await _ingest(
        runtime,
        provider=Provider.monetbil,
        event_id=transaction_id,
        event_type=f"callback.{fields.get('status') or 'unknown'}",
        payload_json=json.dumps(fields),
        payment_id=fields.get("item_ref"),
        transaction_id=transaction_id,
        job=ProcessMonetbilCallback(event_id=transaction_id),
        message_id=monetbil_message_id(transaction_id),
    )
    return PlainTextResponse("received")
