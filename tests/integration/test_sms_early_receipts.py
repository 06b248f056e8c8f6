"""Delivery receipts that arrive before the send's provider id is recorded (the sms stores).

The provider may report `delivered` before the worker has stored the provider's answer
to the send. The receipt is kept unmatched and applied when the id is recorded.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
from sms import store as worker_store
from sms.api import store as api_store
from sms.statuses import SmsStatus


async def _sending(pool: asyncpg.Pool, user: str = "user-1") -> uuid.UUID:
    sms_id = uuid.uuid4()
    await pool.execute(
        """
        INSERT INTO sms.messages (id, user_id, to_number, body, segments, encoding, status)
        VALUES ($1, $2, '+15005550006', 'hi', 1, 'GSM-7', 'sending')
        """,
        sms_id,
        user,
    )
    return sms_id


def _sent(sms_id: uuid.UUID, provider_id: str) -> worker_store.SentAttempt:
    return worker_store.SentAttempt(sms_id, provider_id, 1, '{"id": "x"}', 3.0)


async def _state(pool: asyncpg.Pool, sms_id: uuid.UUID) -> tuple[str, str | None]:
    row = await pool.fetchrow("SELECT status, error FROM sms.messages WHERE id = $1", sms_id)
    assert row is not None
    return row["status"], row["error"]


async def test_a_receipt_before_the_provider_id_is_applied_when_the_id_is_recorded(
    runtime_factory: Any,
) -> None:
    pool = (await runtime_factory()).pool
    sms_id = await _sending(pool)
    matched, applied = await api_store.apply_receipt(pool, "user-1", "p-early", SmsStatus.delivered)
    assert (matched, applied) == (False, False)
    await worker_store.mark_sent(pool, "http", [_sent(sms_id, "p-early")])
    assert await _state(pool, sms_id) == ("delivered", None)
    receipt = await pool.fetchrow("SELECT matched, applied FROM sms.receipts")
    assert receipt is not None and (receipt["matched"], receipt["applied"]) == (True, True)


async def test_early_receipts_apply_in_arrival_order_and_only_forward(
    runtime_factory: Any,
) -> None:
    pool = (await runtime_factory()).pool
    sms_id = await _sending(pool)
    for status in (SmsStatus.failed, SmsStatus.delivered, SmsStatus.sent):
        await api_store.apply_receipt(pool, None, "p-order", status)
    await worker_store.mark_sent(pool, "http", [_sent(sms_id, "p-order")])
    assert await _state(pool, sms_id) == ("failed", "provider reported failure")
    rows = await pool.fetch("SELECT status, applied FROM sms.receipts ORDER BY id")
    assert [(r["status"], r["applied"]) for r in rows] == [
        ("failed", True),
        ("delivered", False),
        ("sent", False),
    ]


async def test_another_users_early_receipt_is_not_applied(runtime_factory: Any) -> None:
    pool = (await runtime_factory()).pool
    sms_id = await _sending(pool, user="user-1")
    await api_store.apply_receipt(pool, "user-2", "p-other", SmsStatus.delivered)
    await worker_store.mark_sent(pool, "http", [_sent(sms_id, "p-other")])
    assert await _state(pool, sms_id) == ("sent", None)


async def test_a_receipt_racing_the_recorded_id_is_applied_either_way(
    runtime_factory: Any,
) -> None:
    pool = (await runtime_factory()).pool
    ids = [await _sending(pool) for _ in range(40)]
    await asyncio.gather(
        *(
            task
            for n, sms_id in enumerate(ids)
            for task in (
                worker_store.mark_sent(pool, "http", [_sent(sms_id, f"p-race-{n}")]),
                api_store.apply_receipt(pool, "user-1", f"p-race-{n}", SmsStatus.delivered),
            )
        )
    )
    states = [await _state(pool, sms_id) for sms_id in ids]
    assert states == [("delivered", None)] * len(ids)
