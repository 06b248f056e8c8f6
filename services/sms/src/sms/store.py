"""SQL of the sms schema, as the worker needs it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from .domain import apply_receipts
from .statuses import RECEIPT_LOCK, SmsStatus

# A message may be (re)claimed while queued or sending: a worker killed mid-send leaves it
# `sending`, and its redelivery must send again (the provider de-duplicates by sms id).
_CLAIMABLE = [SmsStatus.queued.value, SmsStatus.sending.value]
# An operator's retry from the failed-job store may also revive a failed message.
_RECLAIMABLE = [*_CLAIMABLE, SmsStatus.failed.value]


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    to: str
    sender: str | None
    body: str
    attempt: int  # provider calls so far, this one included
    opted_out: bool


async def claim(
    pool: asyncpg.Pool, sms_ids: list[uuid.UUID], provider: str, *, revive_failed: bool
) -> list[Claimed]:
    """Mark the messages `sending` (one more attempt each), or `skipped` where the recipient
    opted out; in one statement, whatever the batch's size.

    Messages already settled (a duplicate delivery) are left alone and not returned.
    """
    rows = await pool.fetch(
        """
        UPDATE sms.messages m SET
            status = CASE WHEN o.phone IS NULL THEN 'sending' ELSE 'skipped' END,
            attempts = m.attempts + CASE WHEN o.phone IS NULL THEN 1 ELSE 0 END,
            error = CASE WHEN o.phone IS NULL THEN m.error ELSE 'opted_out' END,
            provider = CASE WHEN o.phone IS NULL THEN $3 ELSE m.provider END,
            updated_at = now()
        FROM sms.messages t
        LEFT JOIN sms.opt_outs o ON o.user_id = t.user_id AND o.phone = t.to_number
        WHERE m.id = ANY($1::uuid[]) AND t.id = m.id AND m.status = ANY($2::text[])
        RETURNING m.id, m.to_number, m.sender, m.body, m.attempts,
            o.phone IS NOT NULL AS opted_out
        """,
        sms_ids,
        _RECLAIMABLE if revive_failed else _CLAIMABLE,
        provider,
    )
    return [
        Claimed(
            row["id"],
            row["to_number"],
            row["sender"],
            row["body"],
            row["attempts"],
            row["opted_out"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class SentAttempt:
    sms_id: uuid.UUID
    provider_id: str | None
    attempt: int
    answer: str
    duration_ms: float


async def mark_sent(pool: asyncpg.Pool, provider: str, sent: list[SentAttempt]) -> None:
    """`sending -> sent` and each attempt's log row for a whole batch, then the delivery
    receipts that arrived before their provider id was recorded, in one transaction."""
    provider_ids = sorted({attempt.provider_id for attempt in sent if attempt.provider_id})
    async with pool.acquire() as connection, connection.transaction():
        if provider_ids:
            # Every taker locks in the same (sorted) order: no deadlock between batches.
            await connection.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext(p)) FROM unnest($2::text[]) AS p",
                RECEIPT_LOCK,
                provider_ids,
            )
        early = await connection.fetch(
            """
            WITH done AS (
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::real[])
                    AS d (sms_id, provider_id, attempt, answer, duration_ms)
            ), sent AS (
                UPDATE sms.messages m SET status = 'sent', provider_id = d.provider_id,
                    error = NULL, updated_at = now()
                FROM done d
                WHERE m.id = d.sms_id AND m.status = 'sending'
                RETURNING m.id, m.user_id, m.provider_id
            ), logged AS (
                INSERT INTO sms.attempts (sms_id, attempt, provider, outcome, answer, duration_ms)
                SELECT sms_id, attempt, $6, 'sent', answer, duration_ms FROM done
            )
            SELECT s.id AS sms_id, r.id AS receipt_id, r.status
            FROM sent s JOIN sms.receipts r ON r.provider_id = s.provider_id
            WHERE NOT r.matched AND (r.user_id = s.user_id OR r.user_id = 'admin')
            ORDER BY s.id, r.id
            """,
            [attempt.sms_id for attempt in sent],
            [attempt.provider_id for attempt in sent],
            [attempt.attempt for attempt in sent],
            [attempt.answer[:500] for attempt in sent],
            [attempt.duration_ms for attempt in sent],
            provider,
        )
        if early:
            await _apply_early_receipts(connection, early)


async def _apply_early_receipts(connection: asyncpg.Connection, early: list[Any]) -> None:
    """Apply, in arrival order, the receipts that came before their message was sent."""
    by_message: dict[uuid.UUID, list[Any]] = {}
    for row in early:
        by_message.setdefault(row["sms_id"], []).append(row)
    for sms_id, receipts in by_message.items():
        final, applied = apply_receipts(SmsStatus.sent, [SmsStatus(r["status"]) for r in receipts])
        if final is not SmsStatus.sent:
            await connection.execute(
                """
                UPDATE sms.messages SET status = $2, updated_at = now(),
                    error = CASE WHEN $2 = 'failed' THEN 'provider reported failure' ELSE error END
                WHERE id = $1 AND status = 'sent'
                """,
                sms_id,
                final.value,
            )
        await connection.execute(
            """
            UPDATE sms.receipts r SET matched = true, applied = a.applied
            FROM unnest($1::bigint[], $2::bool[]) AS a (id, applied)
            WHERE r.id = a.id
            """,
            [r["receipt_id"] for r in receipts],
            applied,
        )


async def record_failure(
    pool: asyncpg.Pool,
    sms_id: uuid.UUID,
    *,
    provider: str,
    attempt: int,
    outcome: str,
    answer: str,
    duration_ms: float,
) -> None:
    """Log a failed provider call; the message keeps the answer as its latest error."""
    await pool.execute(
        """
        WITH answered AS (
            UPDATE sms.messages SET error = $5, updated_at = now()
            WHERE id = $1 AND status = 'sending'
        )
        INSERT INTO sms.attempts (sms_id, attempt, provider, outcome, answer, duration_ms)
        VALUES ($1, $3, $4, $2, $5, $6)
        """,
        sms_id,
        outcome,
        attempt,
        provider,
        answer[:500],
        duration_ms,
    )


async def fail_messages(pool: asyncpg.Pool, sms_ids: list[uuid.UUID], error: str) -> None:
    """Mark messages failed for good (their job died); those already settled stay as they
    are. A campaign message so counts as failed in its campaign."""
    await pool.execute(
        """
        UPDATE sms.messages SET status = 'failed', error = $2, updated_at = now()
        WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'sending')
        """,
        sms_ids,
        error[:500],
    )


@dataclass(frozen=True)
class CampaignRelease:
    user_id: str
    total: int
    chunk_size: int


async def start_release(
    connection: asyncpg.Connection, campaign_id: uuid.UUID, chunk_size: int
) -> CampaignRelease | None:
    """The campaign to release; its chunk size is fixed by the first release, so a worker
    restarted with another SMS_BULK_CHUNK neither skips nor repeats recipients."""
    row = await connection.fetchrow(
        """
        UPDATE sms.campaigns SET chunk_size = COALESCE(chunk_size, $2)
        WHERE id = $1 RETURNING user_id, total, chunk_size
        """,
        campaign_id,
        chunk_size,
    )
    if row is None:
        return None
    return CampaignRelease(row["user_id"], row["total"], row["chunk_size"])


@dataclass(frozen=True)
class CampaignState:
    total: int
    state: str  # running | paused | cancelled


async def campaign_state(pool: asyncpg.Pool, campaign_id: uuid.UUID) -> CampaignState | None:
    row = await pool.fetchrow("SELECT total, state FROM sms.campaigns WHERE id = $1", campaign_id)
    return None if row is None else CampaignState(row["total"], row["state"])


async def skip_cancelled(
    db: asyncpg.Pool | asyncpg.Connection,
    campaign_id: uuid.UUID,
    sms_ids: list[uuid.UUID] | None = None,
) -> int:
    """Skip (`error: "cancelled"`) what of a cancelled campaign is not sent yet: the given
    messages (a job's own, queued or left `sending` by a failed attempt), or every queued one.

    Rows another statement holds (a worker claiming them right now) are left to it: they
    are being sent, and waiting for them could deadlock on the campaign's counts.
    """
    which = (
        "id = ANY($2::uuid[]) AND status IN ('queued', 'sending')"
        if sms_ids is not None
        else "status = 'queued' AND $2::uuid[] IS NULL"
    )
    result = await db.execute(
        f"""
        UPDATE sms.messages SET status = 'skipped', error = 'cancelled', updated_at = now()
        WHERE id IN (
            SELECT id FROM sms.messages WHERE campaign_id = $1 AND {which}
            FOR UPDATE SKIP LOCKED
        )
        """,
        campaign_id,
        sms_ids,
    )
    return int(result.split()[-1])


async def queued_in_chunk(
    connection: asyncpg.Connection, campaign_id: uuid.UUID, start: int, stop: int
) -> list[uuid.UUID]:
    rows = await connection.fetch(
        """
        SELECT id FROM sms.messages
        WHERE campaign_id = $1 AND seq >= $2 AND seq < $3 AND status = 'queued'
        ORDER BY seq
        """,
        campaign_id,
        start,
        stop,
    )
    return [row["id"] for row in rows]


async def mark_released(
    connection: asyncpg.Connection, campaign_id: uuid.UUID, chunks: int
) -> None:
    await connection.execute(
        "UPDATE sms.campaigns SET released_chunks = GREATEST(released_chunks, $2) WHERE id = $1",
        campaign_id,
        chunks,
    )
