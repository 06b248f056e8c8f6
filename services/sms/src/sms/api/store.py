"""SQL of the sms schema, as the gateway needs it (rows it creates, views it answers)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from common.errors import NotFound

from ..contracts import OPT_OUT_KEYWORDS, RECEIPT_LOCK, SmsStatus, sources_of
from .bodies import CampaignView, Rejected, SmsView
from .campaigns import RecipientMessage


async def insert_sms(
    connection: asyncpg.Connection,
    sms_id: uuid.UUID,
    user_id: str,
    to: str,
    sender: str | None,
    body: str,
    segments: int,
    encoding: str,
) -> None:
    await connection.execute(
        """
        INSERT INTO sms.messages (id, user_id, to_number, sender, body, segments, encoding)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        sms_id,
        user_id,
        to,
        sender,
        body,
        segments,
        encoding,
    )


async def delete_sms(connection: asyncpg.Connection, sms_id: uuid.UUID) -> None:
    await connection.execute("DELETE FROM sms.messages WHERE id = $1", sms_id)


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


async def insert_campaign(
    connection: asyncpg.Connection,
    campaign_id: uuid.UUID,
    user_id: str,
    name: str,
    template: str,
    sender: str | None,
    messages: list[RecipientMessage],
    rejected: list[Rejected],
) -> None:
    """The campaign and every recipient message (`queued`), in the caller's transaction."""
    await connection.execute(
        """
        INSERT INTO sms.campaigns (id, user_id, name, template, total, rejected)
        VALUES ($1, $2, $3, $4, $5, $6::jsonb)
        """,
        campaign_id,
        user_id,
        name,
        template,
        len(messages),
        json.dumps([r.model_dump() for r in rejected]),
    )
    await connection.copy_records_to_table(
        "messages",
        schema_name="sms",
        columns=[
            "id",
            "user_id",
            "campaign_id",
            "seq",
            "row",
            "to_number",
            "sender",
            "body",
            "segments",
            "encoding",
        ],
        records=[
            (
                m.id,
                user_id,
                campaign_id,
                m.seq,
                m.row,
                m.to,
                sender,
                m.body,
                m.segments,
                m.encoding,
            )
            for m in messages
        ],
    )


async def delete_campaign(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> None:
    await connection.execute("DELETE FROM sms.campaigns WHERE id = $1", campaign_id)


async def get_campaign(pool: asyncpg.Pool, campaign_id: uuid.UUID, user_id: str) -> CampaignView:
    # One snapshot of the per-recipient rows: total = sent + failed + skipped + pending.
    row = await pool.fetchrow(
        """
        SELECT c.id, c.name, c.total, c.released_chunks, jsonb_array_length(c.rejected) AS rejected,
            count(m.id) FILTER (WHERE m.status IN ('sent', 'delivered')) AS sent,
            count(m.id) FILTER (WHERE m.status = 'delivered') AS delivered,
            count(m.id) FILTER (WHERE m.status = 'failed') AS failed,
            count(m.id) FILTER (WHERE m.status = 'skipped') AS skipped
        FROM sms.campaigns c LEFT JOIN sms.messages m ON m.campaign_id = c.id
        WHERE c.id = $1 AND c.user_id = $2
        GROUP BY c.id
        """,
        campaign_id,
        user_id,
    )
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    pending = row["total"] - row["sent"] - row["failed"] - row["skipped"]
    status = "completed" if pending == 0 else "sending" if row["released_chunks"] else "queued"
    return CampaignView(
        id=row["id"],
        name=row["name"],
        status=status,
        total=row["total"],
        sent=row["sent"],
        delivered=row["delivered"],
        failed=row["failed"],
        skipped=row["skipped"],
        pending=pending,
        rejected=row["rejected"],
    )


async def record_inbound(
    pool: asyncpg.Pool, user_id: str, phone: str, body: str, keyword: str | None
) -> tuple[uuid.UUID, bool | None]:
    """Store the reply; STOP-like keywords opt the number out, START-like ones back in."""
    inbound_id = uuid.uuid4()
    opted_out: bool | None = None
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            """
            INSERT INTO sms.inbound (id, user_id, from_number, body, keyword)
            VALUES ($1, $2, $3, $4, $5)
            """,
            inbound_id,
            user_id,
            phone,
            body,
            keyword,
        )
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
