"""SQL for the notifications schema, as the worker needs it."""

from __future__ import annotations

import uuid

import asyncpg

from .contracts import ImageStatus


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
