"""Handlers of the payments queues: apply a stored provider event to its payment, once.

Exactly-once effect comes from three layers, each enough on its own for its case:
the job's message id is derived from the event id (the runtime's processed-message
record skips a redelivered job), the event row is locked and marked processed in the
same transaction as the status change, and payment_events' unique keys refuse a second
application of an event. The payment row is locked while its status is read and changed.
"""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Any

import asyncpg
from common.consumer import JobContext, JobRouter
from common.errors import Permanent
from pydantic import ValidationError

from . import store
from .contracts import (
    PaymentStatus,
    ProcessMonetbilCallback,
    ProcessStripeEvent,
    Provider,
    StripeEvent,
)
from .domain import STRIPE_TARGETS, Outcome, amount_flag, decide
from .monetbil import CheckPending, CheckResult, CheckStatus, MonetbilChecker
from .settings import settings
from .topology import MONETBIL, STRIPE

log = logging.getLogger("relay.payments")
router = JobRouter()


@functools.cache
def checker() -> MonetbilChecker:
    """One checkPayment client per process (its connection pool is reused)."""
    config = settings()
    return MonetbilChecker(
        config.monetbil_check_url,
        timeout=config.monetbil_check_timeout,
        tries=config.monetbil_check_tries,
    )


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _log(ctx: JobContext, message: str, **fields: Any) -> None:
    # A fresh `extra` per call: LoggerAdapter (Python 3.11) would drop the call's own.
    log.info(
        message,
        extra={"message_id": ctx.message_id, "attempt": ctx.attempt, "queue": ctx.queue.name}
        | fields,
    )


async def _apply(
    connection: asyncpg.Connection,
    *,
    provider: Provider,
    event_id: str,
    event_type: str,
    payment: store.Payment | None,
    target: PaymentStatus | None,
    mismatch: str | None = None,
) -> Outcome:
    """Decide and write what the event does to the (locked) payment; mark the event done."""
    if payment is None or payment.provider != provider:
        outcome = Outcome.unmatched
    elif target is None:
        outcome = Outcome.stale
    else:
        decision = decide(payment.status, target, current_flag=payment.flag, mismatch=mismatch)
        outcome = decision.outcome
        if decision.status is not None:
            await store.change_status(
                connection,
                payment,
                decision.status,
                provider=provider.value,
                event_id=event_id,
                event_type=event_type,
            )
        elif decision.flag is not None and decision.flag != payment.flag:
            await store.set_flag(connection, payment.id, decision.flag)
    await store.finish_event(
        connection, provider.value, event_id, outcome, payment.id if payment else None
    )
    return outcome


@router.handler(STRIPE)
async def process_stripe_event(job: ProcessStripeEvent, ctx: JobContext) -> None:
    async with ctx.transaction() as connection:
        stored = await store.lock_event(connection, Provider.stripe.value, job.event_id)
        if stored is None:
            raise Permanent(f"stripe event {job.event_id} was never stored by the gateway")
        try:
            event = StripeEvent.model_validate(stored.payload)
        except ValidationError as invalid:
            raise Permanent(
                f"stored stripe event {job.event_id} is unreadable: {invalid}"
            ) from invalid
        fields = {
            "event_id": event.id,
            "event_type": event.type,
            "transaction_id": event.transaction_id,
            "payment_id": event.payment_id,
            "provider": "stripe",
        }
        if stored.processed_at is not None:
            _log(ctx, "stripe event already processed", **fields)
            return
        target = STRIPE_TARGETS.get(event.type)
        payment_id = _uuid(event.payment_id)
        if target is None:
            await store.finish_event(
                connection, Provider.stripe.value, event.id, Outcome.ignored, payment_id
            )
            _log(ctx, "stripe event ignored", outcome=Outcome.ignored.value, **fields)
            return
        payment = await store.lock_payment(connection, payment_id) if payment_id else None
        mismatch = None
        if payment is not None and target is PaymentStatus.succeeded:
            received = event.data.object
            amount = (
                received.amount_received
                if received.amount_received is not None
                else received.amount
            )
            mismatch = amount_flag(payment.amount, payment.currency, amount, received.currency)
        outcome = await _apply(
            connection,
            provider=Provider.stripe,
            event_id=event.id,
            event_type=event.type,
            payment=payment,
            target=target,
            mismatch=mismatch,
        )
    _log(ctx, f"stripe event {outcome.value}", outcome=outcome.value, flag=mismatch, **fields)


def _monetbil_target(
    result: CheckResult, payment: store.Payment
) -> tuple[PaymentStatus, str | None]:
    if result.status is CheckStatus.success:
        return PaymentStatus.succeeded, amount_flag(
            payment.amount, payment.currency, result.amount, result.currency
        )
    return PaymentStatus.failed, None


@router.handler(MONETBIL)
async def process_monetbil_callback(job: ProcessMonetbilCallback, ctx: JobContext) -> None:
    pool = ctx.runtime.pool
    stored = await store.get_event(pool, Provider.monetbil.value, job.event_id)
    if stored is None:
        raise Permanent(f"monetbil callback {job.event_id} was never stored by the gateway")
    form: dict[str, Any] = stored.payload if isinstance(stored.payload, dict) else {}
    payment_id = _uuid(form.get("item_ref"))
    fields = {
        "event_id": job.event_id,
        "transaction_id": job.event_id,
        "payment_id": str(payment_id) if payment_id else form.get("item_ref"),
        "provider": "monetbil",
    }
    if stored.processed_at is not None:
        _log(ctx, "monetbil callback already processed", **fields)
        return
    payment = await store.get_payment(pool, payment_id) if payment_id else None
    # Ask Monetbil outside any transaction: no row stays locked while we wait on HTTP.
    result: CheckResult | None = None
    if (
        payment is not None
        and payment.provider == Provider.monetbil
        and payment.status is PaymentStatus.pending
    ):
        result = await checker().check(job.event_id)
        _log(ctx, "monetbil check answered", check_status=result.status.value, **fields)
        if result.status is CheckStatus.pending:
            raise CheckPending(f"monetbil transaction {job.event_id} is still pending")

    mismatch = None
    async with ctx.transaction() as connection:
        stored = await store.lock_event(connection, Provider.monetbil.value, job.event_id)
        if stored is None or stored.processed_at is not None:
            _log(ctx, "monetbil callback already processed", **fields)
            return
        locked = await store.lock_payment(connection, payment_id) if payment_id else None
        target = None
        if locked is not None and result is not None:
            target, mismatch = _monetbil_target(result, locked)
        outcome = await _apply(
            connection,
            provider=Provider.monetbil,
            event_id=job.event_id,
            event_type=f"checkPayment.{result.status.value}" if result else stored.type,
            payment=locked,
            target=target,
            mismatch=mismatch,
        )
    _log(ctx, f"monetbil callback {outcome.value}", outcome=outcome.value, flag=mismatch, **fields)
