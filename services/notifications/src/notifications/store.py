"""SQL for the notifications schema, as the worker needs it."""

from __future__ import annotations

import uuid

import asyncpg
from common.contracts.notifications import CreateNotification, ImageStatus, Notification

# Numbers the notification from the user's row in user_sequences: the row lock makes
# one user's notifications commit in `seq` order, so a stream that has seen `seq` N has
# seen (or can read) every notification below N. An id that already exists (a
# redelivery, or the gateway's own critical insert) consumes no number.
_INSERT = """
WITH next AS (
    INSERT INTO notifications.user_sequences AS s (user_id, last_seq)
    SELECT $2, 1
    WHERE NOT EXISTS (SELECT 1 FROM notifications.notifications WHERE id = $1)
    ON CONFLICT (user_id) DO UPDATE SET last_seq = s.last_seq + 1
    RETURNING last_seq
)
INSERT INTO notifications.notifications (id, user_id, seq, title, message, type, priority)
SELECT $1, $2, next.last_seq, $3, $4, $5, $6 FROM next
ON CONFLICT (id) DO NOTHING
RETURNING *
"""


def notification_of(row: asyncpg.Record) -> Notification:
    return Notification(
        id=row["id"],
        seq=row["seq"],
        user_id=row["user_id"],
        title=row["title"],
        message=row["message"],
        type=row["type"],
        priority=row["priority"],
        read=row["read_at"] is not None,
        read_at=row["read_at"],
        created_at=row["created_at"],
    )


async def save_notification(pool: asyncpg.Pool, job: CreateNotification) -> Notification:
    """Insert the notification unless its id exists; the stored row either way."""
    # One statement: one round trip, its own transaction.
    row = await pool.fetchrow(
        _INSERT,
        job.id,
        job.user_id,
        job.title,
        job.message,
        job.type.value,
        job.priority.value,
    )
    if row is None:  # the id exists already: a redelivery or a repeated request
        row = await pool.fetchrow("SELECT * FROM notifications.notifications WHERE id = $1", job.id)
    assert row is not None
    return notification_of(row)


async def start_image(pool: asyncpg.Pool, image_id: uuid.UUID) -> bool:
    """Mark the image `processing`; False when it is already done or failed (a redelivery)."""
    claimed = await pool.fetchval(
        """
        UPDATE notifications.images SET status = 'processing', updated_at = now()
        WHERE id = $1 AND status IN ('queued', 'processing') RETURNING 1
        """,
        image_id,
    )
    return claimed is not None


async def finish_image(
    pool: asyncpg.Pool,
    image_id: uuid.UUID,
    large: tuple[int, int],
    thumb: tuple[int, int],
) -> None:
    await pool.execute(
        """
        UPDATE notifications.images
        SET status = $2, error = NULL, large_width = $3, large_height = $4,
            thumb_width = $5, thumb_height = $6, updated_at = now()
        WHERE id = $1
        """,
        image_id,
        ImageStatus.done.value,
        *large,
        *thumb,
    )


async def fail_image(pool: asyncpg.Pool, image_id: uuid.UUID, error: str) -> None:
    await pool.execute(
        """
        UPDATE notifications.images SET status = $2, error = $3, updated_at = now()
        WHERE id = $1 AND status <> 'done'
        """,
        image_id,
        ImageStatus.failed.value,
        error[:1000],
    )
