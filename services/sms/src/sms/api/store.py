"""SQL of the sms schema for single sends, inbound replies and delivery receipts, as the
gateway needs it (campaigns: campaign_store.py)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from common.errors import NotFound

from ..opt_out import OPT_OUT_KEYWORDS
from ..statuses import RECEIPT_LOCK, SmsStatus, sources_of
from .bodies import SmsView

# (id, user_id, to, sender, body, segments, encoding) of one message
SmsRow = tuple[uuid.UUID, str, str, str | None, str, int, str]


async def insert_many_sms(connection: asyncpg.Connection, rows: list[SmsRow]) -> set[uuid.UUID]:
    """The messages' rows (`queued`), in one statement; the ids inserted (an id that
    exists already is left as it is)."""
    inserted = await connection.fetch(
        """
        INSERT INTO sms.messages (id, user_id, to_number, sender, body, segments, encoding)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::int[], $7::text[])
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        *(list(column) for column in zip(*rows, strict=True)),
    )
    return {row["id"] for row in inserted}


async def stored_sms_many(
    connection: asyncpg.Connection, sms_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The rows of messages `sms_ids` (owner, status, number, segments), by id."""
    if not sms_ids:
        return {}
    rows = await connection.fetch(
        """
        SELECT id, user_id, status, to_number, segments, encoding
        FROM sms.messages WHERE id = ANY($1::uuid[])
        """,
        sms_ids,
    )
    return {row["id"]: row for row in rows}


async def delete_sms(connection: asyncpg.Connection, sms_ids: list[uuid.UUID]) -> None:
    await connection.execute("DELETE FROM sms.messages WHERE id = ANY($1::uuid[])", sms_ids)


async def get_sms(pool: asyncpg.Pool, sms_id: uuid.UUID, user_id: str) -> SmsView:
    row = await pool.fetchrow(
        "SELECT * FROM sms.messages WHERE id = $1 AND user_id = $2", sms_id, user_id
    )
    if row is None:
        raise NotFound(f"no sms {sms_id}")
    return SmsView(
        id=row["id"],
        to=row["to_number"],
        status=row["status"],
        attempts=row["attempts"],
        segments=row["segments"],
        encoding=row["encoding"],
        error=row["error"],
        provider_id=row["provider_id"],
        provider=row["provider"],
        campaign_id=row["campaign_id"],
        message=row["body"],
    )


async def record_inbound(
    pool: asyncpg.Pool,
    user_id: str,
    phone: str,
    body: str,
    keyword: str | None,
    inbound_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, bool | None]:
    """Store the reply; STOP-like keywords opt the number out, START-like ones back in.

    A reply with a known id (a provider's message id) is stored once; sent again, it
    changes nothing more.
    """
    inbound_id = inbound_id or uuid.uuid4()
    opted_out: bool | None = None
    async with pool.acquire() as connection, connection.transaction():
        stored = await connection.execute(
            """
            INSERT INTO sms.inbound (id, user_id, from_number, body, keyword)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING
            """,
            inbound_id,
            user_id,
            phone,
            body,
            keyword,
        )
        if stored == "INSERT 0 0":
            return inbound_id, None
        if keyword in OPT_OUT_KEYWORDS:
            await connection.execute(
                """
                INSERT INTO sms.opt_outs (user_id, phone, keyword) VALUES ($1, $2, $3)
                ON CONFLICT (user_id, phone) DO UPDATE SET keyword = $3, opted_out_at = now()
                """,
                user_id,
                phone,
                keyword,
            )
            opted_out = True
        elif keyword is not None:
            await connection.execute(
                "DELETE FROM sms.opt_outs WHERE user_id = $1 AND phone = $2", user_id, phone
            )
            opted_out = False
    return inbound_id, opted_out


async def apply_receipt(
    pool: asyncpg.Pool, user_id: str | None, provider_id: str, status: SmsStatus
) -> tuple[bool, bool]:
    """Move matching messages forward only; every receipt is kept. -> (matched, applied).

    A receipt for an id no message has yet is kept unmatched: the worker applies it when
    it records that id (a receipt may outrun the provider's answer to the send).
    """
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", RECEIPT_LOCK, provider_id
        )
        rows: list[Any] = await connection.fetch(
            """
            SELECT id, status FROM sms.messages
            WHERE provider_id = $1 AND ($2::text IS NULL OR user_id = $2)
            FOR UPDATE
            """,
            provider_id,
            user_id,
        )
        applied = False
        if rows:
            result = await connection.execute(
                """
                UPDATE sms.messages SET status = $2, updated_at = now(),
                    error = CASE WHEN $2 = 'failed' THEN 'provider reported failure' ELSE error END
                WHERE id = ANY($1::uuid[]) AND status = ANY($3::text[])
                """,
                [row["id"] for row in rows],
                status.value,
                sources_of(status),
            )
            applied = result != "UPDATE 0"
        await connection.execute(
            """
            INSERT INTO sms.receipts (user_id, provider_id, status, applied, matched)
            VALUES ($1, $2, $3, $4, $5)
            """,
            user_id or "admin",
            provider_id,
            status.value,
            applied,
            bool(rows),
        )
    return bool(rows), applied


async def users_who_messaged(pool: asyncpg.Pool, phone: str) -> list[str]:
    """Every user who has sent an sms to `phone` (whose opt-out a STOP from it concerns)."""
    rows = await pool.fetch("SELECT DISTINCT user_id FROM sms.messages WHERE to_number = $1", phone)
    return [row["user_id"] for row in rows]
