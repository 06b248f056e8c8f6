"""The payment state machine and the rules that decide what an event does (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from .contracts import PaymentStatus

# Forward only: pending -> succeeded | failed, succeeded -> refunded. Nothing leaves
# failed or refunded, and nothing goes back to pending.
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.pending: frozenset({PaymentStatus.succeeded, PaymentStatus.failed}),
    PaymentStatus.succeeded: frozenset({PaymentStatus.refunded}),
    PaymentStatus.failed: frozenset(),
    PaymentStatus.refunded: frozenset(),
}

# The Stripe event types we act on (CONTRACT.md); any other type is recorded as ignored.
STRIPE_TARGETS: dict[str, PaymentStatus] = {
    "payment_intent.succeeded": PaymentStatus.succeeded,
    "payment_intent.payment_failed": PaymentStatus.failed,
    "charge.refunded": PaymentStatus.refunded,
}


class Outcome(StrEnum):
    """What processing an event did; stored on the event (payments.webhook_events.outcome)."""

    applied = "applied"  # changed the payment's status
    ignored = "ignored"  # a type we do not handle
    unmatched = "unmatched"  # no payment of ours matches it
    stale = "stale"  # the payment is already past the status the event asks for
    flagged = "flagged"  # amount or currency differ: never marked paid


class NotYet(Exception):
    """The event arrived before the one it follows (a refund before the success).

    Stripe does not guarantee delivery order, so this is an ordinary failed attempt: the
    job is retried after JOB_RETRY_DELAYS, by when the earlier event is usually applied.
    """


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    status: PaymentStatus | None = None  # the new status when applied
    flag: str | None = None  # the flag to set when flagged


def can_move(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in TRANSITIONS[current]


def decide(
    current: PaymentStatus,
    target: PaymentStatus,
    *,
    current_flag: str | None = None,
    mismatch: str | None = None,
) -> Decision:
    """What an event asking for `target` does to a payment in `current`.

    `mismatch` is the amount/currency check of a success (see `amount_flag`); a payment
    that carries a flag is never marked succeeded automatically.
    """
    if can_move(current, target):
        if target is PaymentStatus.succeeded and (mismatch or current_flag):
            return Decision(Outcome.flagged, flag=mismatch or current_flag)
        return Decision(Outcome.applied, status=target)
    if current is PaymentStatus.pending and target is PaymentStatus.refunded:
        raise NotYet("refund received before the payment succeeded; retrying later")
    return Decision(Outcome.stale)


def amount_flag(
    expected_amount: int,
    expected_currency: str,
    amount: object,
    currency: object,
) -> str | None:
    """`amount_mismatch` / `currency_mismatch` when the provider's figures differ from ours.

    Amounts are compared in minor units; a missing or unreadable figure counts as a
    mismatch, because a payment must never be marked paid on an unconfirmed amount.
    """
    if not isinstance(currency, str) or currency.strip().upper() != expected_currency.upper():
        return "currency_mismatch"
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        return "amount_mismatch"
    if amount is None or isinstance(amount, bool) or value != Decimal(expected_amount):
        return "amount_mismatch"
    return None
