"""SQL of the sms schema for campaigns, as the gateway needs it: the rows a campaign
request creates, its progress view, pause / resume / cancel, and its messages page by page."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from common.errors import Conflict, NotFound

from .bodies import CampaignMessage, CampaignView, Rejected
from .campaigns import RecipientMessage, campaign_status

_MESSAGE_COLUMNS = [
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
]


async def begin_campaign(
    connection: asyncpg.Connection,
    campaign_id: uuid.UUID,
    user_id: str,
    name: str,
    template: str,
) -> bool:
    """The campaign row, before its recipients (their rows refer to it); `total` comes last.
    False when a campaign with this id exists already."""
    inserted = await connection.fetchval(
        """
        INSERT INTO sms.campaigns (id, user_id, name, template, total)
        VALUES ($1, $2, $3, $4, 0)
        ON CONFLICT (id) DO NOTHING
        RETURNING true
        """,
        campaign_id,
        user_id,
        name,
        template,
    )
    return bool(inserted)


async def stored_campaign(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> Any:
    """The row of campaign `campaign_id` (owner, name, total, rejected rows), or None."""
    return await connection.fetchrow(
        "SELECT user_id, name, total, rejected FROM sms.campaigns WHERE id = $1",
        campaign_id,
    )


async def add_recipients(
    connection: asyncpg.Connection,
    campaign_id: uuid.UUID,
    user_id: str,
    sender: str | None,
    messages: list[RecipientMessage],
) -> None:
    """One batch of recipient messages (`queued`), by COPY."""
    if not messages:
        return
    await connection.copy_records_to_table(
        "messages",
        schema_name="sms",
        columns=_MESSAGE_COLUMNS,
        records=[
            (m.id, user_id, campaign_id, m.seq, m.row, m.to, sender, m.body, m.segments, m.encoding)
            for m in messages
        ],
    )


async def finish_campaign(
    connection: asyncpg.Connection,
    campaign_id: uuid.UUID,
    name: str,
    total: int,
    rejected: list[Rejected],
) -> None:
    await connection.execute(
        "UPDATE sms.campaigns SET name = $2, total = $3, rejected = $4::jsonb WHERE id = $1",
        campaign_id,
        name,
        total,
        json.dumps([r.model_dump() for r in rejected]),
    )


async def set_sender(
    connection: asyncpg.Connection, campaign_id: uuid.UUID, sender: str | None
) -> None:
    """A multipart form whose `sender` came after its file: set it on the rows written."""
    await connection.execute(
        "UPDATE sms.messages SET sender = $2 WHERE campaign_id = $1", campaign_id, sender
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
) -> bool:
    """The campaign and every recipient message (`queued`), in the caller's transaction;
    False (and nothing written) when a campaign with this id exists already."""
    if not await begin_campaign(connection, campaign_id, user_id, name, template):
        return False
    await add_recipients(connection, campaign_id, user_id, sender, messages)
    await finish_campaign(connection, campaign_id, name, len(messages), rejected)
    return True


async def delete_campaign(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> None:
    await connection.execute("DELETE FROM sms.campaigns WHERE id = $1", campaign_id)


_CAMPAIGN_VIEW = """
    SELECT id, name, state, total, released_chunks, sent, delivered, failed, skipped,
        jsonb_array_length(rejected) AS rejected
    FROM sms.campaigns
"""


def campaign_view(row: Any) -> CampaignView:
    pending = row["total"] - row["sent"] - row["failed"] - row["skipped"]
    return CampaignView(
        id=row["id"],
        name=row["name"],
        status=campaign_status(row["state"], pending, row["released_chunks"]),
        total=row["total"],
        sent=row["sent"],
        delivered=row["delivered"],
        failed=row["failed"],
        skipped=row["skipped"],
        pending=pending,
        rejected=row["rejected"],
    )


async def get_campaign(
    db: asyncpg.Pool | asyncpg.Connection, campaign_id: uuid.UUID, user_id: str | None
) -> CampaignView:
    """The campaign if `user_id` owns it (None: whoever does, for the dashboard)."""
    # The counts live on the campaign row, moved by a trigger in the same transaction as
    # the messages: one row read, and total = sent + failed + skipped + pending holds.
    row = await db.fetchrow(
        f"{_CAMPAIGN_VIEW} WHERE id = $1 AND ($2::text IS NULL OR user_id = $2)",
        campaign_id,
        user_id,
    )
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign_view(row)


# action -> (the state it sets, the states it may start from)
CONTROL: dict[str, tuple[str, tuple[str, ...]]] = {
    "pause": ("paused", ("running",)),
    "resume": ("running", ("paused",)),
    "cancel": ("cancelled", ("running", "paused")),
}


_DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}


async def control_campaign(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, user_id: str | None, action: str
) -> CampaignView:
    """Pause, resume or cancel; asking for the state a campaign is already in is a no-op.

    Cancelling commits the state first (workers then skip the campaign's jobs), then skips
    its queued messages: in two steps, so the sweep never holds the campaign row while
    waiting for a message a worker is claiming.
    """
    target, sources = CONTROL[action]
    changed = await pool.fetchval(
        """
        UPDATE sms.campaigns SET state = $3
        WHERE id = $1 AND ($2::text IS NULL OR user_id = $2) AND state = ANY($4::text[])
            AND (state = 'paused' OR total > sent + failed + skipped)
        RETURNING id
        """,
        campaign_id,
        user_id,
        target,
        list(sources),
    )
    if changed is None:
        view = await get_campaign(pool, campaign_id, user_id)  # NotFound if not theirs
        current = {"queued": "running", "sending": "running"}.get(view.status, view.status)
        if current == target or (action == "cancel" and view.status == "cancelled"):
            return view
        if view.status == "completed":
            raise Conflict(f"campaign {campaign_id} is completed; nothing left to {action}")
        raise Conflict(f"campaign {campaign_id} is {view.status}; it cannot be {_DONE[action]}")
    if action == "cancel":
        await pool.execute(
            """
            UPDATE sms.messages SET status = 'skipped', error = 'cancelled', updated_at = now()
            WHERE id IN (
                SELECT id FROM sms.messages WHERE campaign_id = $1 AND status = 'queued'
                FOR UPDATE SKIP LOCKED
            )
            """,
            campaign_id,
        )
    return await get_campaign(pool, campaign_id, user_id)


async def campaign_messages(
    pool: asyncpg.Pool,
    campaign_id: uuid.UUID,
    user_id: str,
    status: str | None,
    after: int,
    limit: int,
) -> tuple[list[CampaignMessage], int | None]:
    """A page of a campaign's messages in recipient order, after position `after`.

    Keyset on `seq`, which never changes: pages neither skip nor repeat a message while
    the campaign is sending (with a status filter, a message may of course move in or
    out of the filter between pages).
    """
    owner = await pool.fetchval("SELECT user_id FROM sms.campaigns WHERE id = $1", campaign_id)
    if owner != user_id:
        raise NotFound(f"no campaign {campaign_id}")
    which = "AND status = $4" if status else "AND $4::text IS NULL"
    rows = await pool.fetch(
        f"""
        SELECT id, seq, row, to_number, status, attempts, segments, error, provider_id,
            updated_at
        FROM sms.messages
        WHERE campaign_id = $1 AND seq > $2 {which}
        ORDER BY seq LIMIT $3
        """,
        campaign_id,
        after,
        limit + 1,
        status,
    )
    items = [
        CampaignMessage(
            id=row["id"],
            seq=row["seq"],
            row=row["row"],
            to=row["to_number"],
            status=row["status"],
            attempts=row["attempts"],
            segments=row["segments"],
            error=row["error"],
            provider_id=row["provider_id"],
            updated_at=row["updated_at"],
        )
        for row in rows[:limit]
    ]
    return items, (items[-1].seq if len(rows) > limit else None)
