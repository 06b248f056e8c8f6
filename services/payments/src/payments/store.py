"""SQL of the payments schema, as the worker uses it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from .contracts import PaymentStatus
from .domain import Outcome


@dataclass(frozen=True)
class StoredEvent:
    provider: str
    event_id: str
    type: str
    payload: Any
    processed_at: datetime | None


@dataclass(frozen=True)
class Payment:
    id: uuid.UUID
    amount: int
    currency: str
    provider: str
    status: PaymentStatus
    flag: str | None


def _event(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        provider=row["provider"],
        event_id=row["event_id"],
        type=row["type"],
        payload=json.loads(row["payload"]),
        processed_at=row["processed_at"],
    )


def _payment(row: asyncpg.Record) -> Payment:
    return Payment(
        id=row["id"],
        amount=row["amount"],
        currency=row["currency"],
        provider=row["provider"],
        status=PaymentStatus(row["status"]),
        flag=row["flag"],
    )


_EVENT = "SELECT provider, event_id, type, payload::text AS payload, processed_at FROM payments.webhook_events WHERE provider = $1 AND event_id = $2"
_PAYMENT = (
    "SELECT id, amount, currency, provider, status, flag FROM payments.payments WHERE id = $1"
)


async def get_event(
    db: asyncpg.Pool | asyncpg.Connection, provider: str, event_id: str
) -> StoredEvent | None:
    row = await db.fetchrow(_EVENT, provider, event_id)
    return _event(row) if row else None


async def lock_event(
    connection: asyncpg.Connection, provider: str, event_id: str
) -> StoredEvent | None:
    """The event, locked until the transaction ends: one processing of it at a time."""
    row = await connection.fetchrow(_EVENT + " FOR UPDATE", provider, event_id)
    return _event(row) if row else None


async def get_payment(
    db: asyncpg.Pool | asyncpg.Connection, payment_id: uuid.UUID
) -> Payment | None:
    row = await db.fetchrow(_PAYMENT, payment_id)
    return _payment(row) if row else None


async def lock_payment(connection: asyncpg.Connection, payment_id: uuid.UUID) -> Payment | None:
    """The payment, locked until the transaction ends, so its status is read and changed
    by one event at a time."""
    row = await connection.fetchrow(_PAYMENT + " FOR UPDATE", payment_id)
    return _payment(row) if row else None


async def change_status(
    connection: asyncpg.Connection,
    payment: Payment,
    status: PaymentStatus,
    *,
    provider: str,
    event_id: str,
    event_type: str,
) -> None:
    """Move the payment to `status` and record the event that did it.

    The unique keys on payment_events ((provider, event_id) and (payment_id, to_status))
    make a second application fail loudly instead of counting twice.
    """
    await connection.execute(
        """
        INSERT INTO payments.payment_events
            (payment_id, provider, event_id, type, from_status, to_status)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        payment.id,
        provider,
        event_id,
        event_type,
        payment.status.value,
        status.value,
    )
    await connection.execute(
        "UPDATE payments.payments SET status = $2, updated_at = now() WHERE id = $1",
        payment.id,
        status.value,
    )


async def set_flag(connection: asyncpg.Connection, payment_id: uuid.UUID, flag: str) -> None:
    await connection.execute(
        "UPDATE payments.payments SET flag = $2, updated_at = now() WHERE id = $1",
        payment_id,
        flag,
    )


async def finish_event(
    connection: asyncpg.Connection,
    provider: str,
    event_id: str,
    outcome: Outcome,
    payment_id: uuid.UUID | None,
) -> None:
    await connection.execute(
        """
        UPDATE payments.webhook_events
        SET processed_at = now(), outcome = $3, payment_id = COALESCE($4, payment_id)
        WHERE provider = $1 AND event_id = $2
        """,
        provider,
        event_id,
        outcome.value,
        payment_id,
    )
