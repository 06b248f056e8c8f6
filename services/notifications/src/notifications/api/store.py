"""The gateway's SQL on the notifications schema: critical inserts, listings, image rows.

The numbering insert is shared with the worker (notifications.rows), so
both number one user's notifications through the same per-user row lock.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from pydantic import BaseModel

from ..contracts import (
    CreateNotification,
    ImageStatus,
    Notification,
)
from ..rows import notification_of, save_notification


async def insert_notification(pool: asyncpg.Pool, job: CreateNotification) -> Notification:
    """Write a (critical) notification now; its stored row."""
    return await save_notification(pool, job)


async def list_notifications(
    pool: asyncpg.Pool, user_id: str, *, unread: bool, limit: int, before: int | None
) -> list[Notification]:
    """The user's notifications, newest first, below `before` (a seq cursor)."""
    rows = await pool.fetch(
        """
        SELECT * FROM notifications.notifications
        WHERE user_id = $1 AND ($2::bool IS FALSE OR read_at IS NULL)
          AND ($3::bigint IS NULL OR seq < $3)
        ORDER BY seq DESC LIMIT $4
        """,
        user_id,
        unread,
        before,
        limit,
    )
    return [notification_of(row) for row in rows]


async def count_unread(pool: asyncpg.Pool, user_id: str) -> int:
    value = await pool.fetchval(
        "SELECT count(*) FROM notifications.notifications WHERE user_id = $1 AND read_at IS NULL",
        user_id,
    )
    return int(value)


async def get_notification(
    pool: asyncpg.Pool, user_id: str, notification_id: uuid.UUID
) -> Notification | None:
    row = await pool.fetchrow(
        "SELECT * FROM notifications.notifications WHERE id = $1 AND user_id = $2",
        notification_id,
        user_id,
    )
    return notification_of(row) if row else None


async def mark_read(
    pool: asyncpg.Pool, user_id: str, notification_id: uuid.UUID
) -> Notification | None:
    """Mark as read (keeping the first read time); None when not the user's."""
    row = await pool.fetchrow(
        """
        UPDATE notifications.notifications SET read_at = coalesce(read_at, now())
        WHERE id = $1 AND user_id = $2 RETURNING *
        """,
        notification_id,
        user_id,
    )
    return notification_of(row) if row else None


async def latest_seq(pool: asyncpg.Pool, user_id: str) -> int:
    value = await pool.fetchval(
        "SELECT last_seq FROM notifications.user_sequences WHERE user_id = $1", user_id
    )
    return int(value or 0)


async def notifications_after(
    pool: asyncpg.Pool, user_id: str, after: int, *, upto: int | None = None, limit: int = 500
) -> list[Notification]:
    """The user's notifications with `after` < seq (<= `upto`), oldest first: stream replay."""
    rows = await pool.fetch(
        """
        SELECT * FROM notifications.notifications
        WHERE user_id = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq <= $3)
        ORDER BY seq LIMIT $4
        """,
        user_id,
        after,
        upto,
        limit,
    )
    return [notification_of(row) for row in rows]


# --------------------------------------------------------------------------- images


class ImageRecord(BaseModel):
    id: uuid.UUID
    user_id: str
    status: ImageStatus
    error: str | None
    format: str
    original_bytes: int
    width: int
    height: int
    quality: int
    large_width: int | None
    large_height: int | None
    thumb_width: int | None
    thumb_height: int | None
    created_at: datetime
    updated_at: datetime


async def insert_image(
    connection: asyncpg.Connection,
    *,
    image_id: uuid.UUID,
    user_id: str,
    image_format: str,
    original_bytes: int,
    width: int,
    height: int,
    quality: int,
) -> bool:
    """The image's row (`queued`); False when an image with this id exists already."""
    inserted = await connection.fetchval(
        """
        INSERT INTO notifications.images
            (id, user_id, format, original_bytes, width, height, quality)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (id) DO NOTHING
        RETURNING true
        """,
        image_id,
        user_id,
        image_format,
        original_bytes,
        width,
        height,
        quality,
    )
    return bool(inserted)


async def delete_image(connection: asyncpg.Connection, image_id: uuid.UUID) -> None:
    await connection.execute("DELETE FROM notifications.images WHERE id = $1", image_id)


async def get_image(
    pool: asyncpg.Pool, user_id: str | None, image_id: uuid.UUID
) -> ImageRecord | None:
    """The image if `user_id` owns it (None: whoever does)."""
    row = await pool.fetchrow(
        "SELECT * FROM notifications.images WHERE id = $1 AND ($2::text IS NULL OR user_id = $2)",
        image_id,
        user_id,
    )
    return ImageRecord.model_validate(dict(row)) if row else None
