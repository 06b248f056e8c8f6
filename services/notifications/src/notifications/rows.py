"""The one way to write a notification row, shared by its two writers.

The gateway writes critical notifications itself and the notifications worker writes the
queued ones; both must number a user's notifications through the same statement, or a
stream could miss one (services never import each other, so it lives here).
"""

from __future__ import annotations

import asyncpg

from .contracts import CreateNotification, Notification, NotificationType, Priority

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
    """A stored notification row as the API's model."""
    return Notification(
        id=row["id"],
        seq=row["seq"],
        user_id=row["user_id"],
        title=row["title"],
        message=row["message"],
        type=NotificationType(row["type"]),
        priority=Priority(row["priority"]),
        read=row["read_at"] is not None,
        read_at=row["read_at"],
        created_at=row["created_at"],
    )


async def save_notification(pool: asyncpg.Pool, job: CreateNotification) -> Notification:
    """Insert the notification unless its id exists; the stored row either way."""
    # One statement: one round trip, its own transaction (the critical path's cost).
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
