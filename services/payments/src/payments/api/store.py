"""SQL of the payments schema that the gateway runs: create and read payments, store events."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from pydantic import BaseModel

from ..contracts import PaymentStatus, Provider


class AppliedEvent(BaseModel):
    provider: Provider
    event_id: str
    type: str
    applied_at: datetime


class PaymentView(BaseModel):
    id: uuid.UUID
    status: PaymentStatus
    amount: int
    currency: str
    provider: Provider
    reference: str
    flag: str | None
    created_at: datetime
    updated_at: datetime
    events: list[AppliedEvent]


async def create_payment(
    pool: asyncpg.Pool,
    *,
    user_id: str,
    amount: int,
    currency: str,
    provider: Provider,
    reference: str,
) -> PaymentView:
    row = await pool.fetchrow(
        """
        INSERT INTO payments.payments (id, user_id, amount, currency, provider, reference)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING *
        """,
        uuid.uuid4(),
        user_id,
        amount,
        currency,
        provider.value,
        reference,
    )
    assert row is not None
    return PaymentView(**{k: row[k] for k in _FIELDS}, events=[])


_FIELDS = (
    "id",
    "status",
    "amount",
    "currency",
    "provider",
    "reference",
    "flag",
    "created_at",
    "updated_at",
)


async def get_payment(
    pool: asyncpg.Pool, payment_id: uuid.UUID, user_id: str
) -> PaymentView | None:
    """The user's payment with the events that changed it, oldest first (None if not theirs)."""
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT * FROM payments.payments WHERE id = $1 AND user_id = $2", payment_id, user_id
        )
        if row is None:
            return None
        events = await connection.fetch(
            """
            SELECT provider, event_id, type, applied_at FROM payments.payment_events
            WHERE payment_id = $1 ORDER BY seq
            """,
            payment_id,
        )
    return PaymentView(
        **{k: row[k] for k in _FIELDS},
        events=[AppliedEvent(**dict(event)) for event in events],
    )


async def store_event(
    connection: asyncpg.Connection,
    *,
    provider: Provider,
    event_id: str,
    event_type: str,
    payload_json: str,
    payment_id: uuid.UUID | None,
    transaction_id: str | None,
) -> tuple[bool, bool]:
    """Store a verified event once per (provider, event_id), in the caller's transaction.

    Returns (inserted, pending): whether it is new, and whether it still needs processing
    (a new event, or a known one whose job has not finished), false once done.
    """
    inserted = await connection.fetchval(
        """
        INSERT INTO payments.webhook_events
            (provider, event_id, type, payload, payment_id, transaction_id)
        VALUES ($1, $2, $3, $4::jsonb, $5, $6)
        ON CONFLICT (provider, event_id) DO NOTHING
        RETURNING 1
        """,
        provider.value,
        event_id,
        event_type,
        payload_json,
        payment_id,
        transaction_id,
    )
    if inserted is not None:
        return True, True
    processed_at = await connection.fetchval(
        "SELECT processed_at FROM payments.webhook_events WHERE provider = $1 AND event_id = $2",
        provider.value,
        event_id,
    )
    return False, processed_at is None
