"""An sms's status and how it moves: forward only, never back (receipts included)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class SmsStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    skipped = "skipped"


_RANK = {
    SmsStatus.queued: 0,
    SmsStatus.sending: 1,
    SmsStatus.sent: 2,
    SmsStatus.delivered: 3,
    SmsStatus.failed: 3,
    SmsStatus.skipped: 3,
}


def can_move(current: SmsStatus, target: SmsStatus) -> bool:
    """Whether `current -> target` moves forward: queued -> sending -> sent -> delivered | failed.

    `failed` and `skipped` may follow any earlier, non-final state; final states never move.
    """
    if _RANK[current] == 3:
        return False
    return _RANK[target] > _RANK[current]


def sources_of(target: SmsStatus) -> list[str]:
    """Every status a row may be in to move to `target` (for a conditional UPDATE)."""
    return [status.value for status in SmsStatus if can_move(status, target)]


# Postgres advisory-lock namespace of a provider id: a delivery receipt and the worker
# recording that id take it, so a receipt is either matched at once or found by the worker
# (applied late) — never missed by both.
RECEIPT_LOCK = 7_243_101

# Delivery-receipt statuses a provider may report, mapped to ours.
RECEIPT_STATUSES: Mapping[str, SmsStatus] = {
    "sent": SmsStatus.sent,
    "delivered": SmsStatus.delivered,
    "failed": SmsStatus.failed,
    "undelivered": SmsStatus.failed,
}
