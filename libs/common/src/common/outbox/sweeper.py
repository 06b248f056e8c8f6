"""The sweeper: publishes entries left staged (a crash between commit and publish, a
publish the broker did not confirm). Every gateway and every worker runs it; replicas
sweep different entries (SKIP LOCKED), and only entries older than OUTBOX_SWEEP_AFTER,
so a writer's own prompt send normally gets there first."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import asyncpg

from ..publisher import Publisher
from .publishing import publish_locked
from .store import lock_stale_entries


class Sweepable(Protocol):
    """What `sweep_forever` sweeps: the Outbox."""

    async def sweep(self, older_than: float) -> int: ...


log = logging.getLogger(__name__)

SWEEP_BATCH = 500


async def sweep(pool: asyncpg.Pool, publisher: Publisher, older_than: float) -> int:
    """Publish entries staged more than `older_than` seconds ago; returns how many.

    A batch stays locked until its confirmed entries are deleted; the sweep stops at the
    first batch with an unconfirmed publish (the broker is away: try again later).
    """
    swept = 0
    while True:
        async with pool.acquire() as connection, connection.transaction():
            entries = await lock_stale_entries(connection, older_than, SWEEP_BATCH)
            if not entries:
                return swept
            published = await publish_locked(connection, publisher, entries)
        swept += len(published.confirmed)
        if published.error is not None or len(entries) < SWEEP_BATCH:
            return swept


async def sweep_forever(outbox: Sweepable, every: float, older_than: float) -> None:
    """Sweep `outbox` every `every` seconds, for as long as the task runs."""
    while True:
        await asyncio.sleep(every)
        try:
            swept = await outbox.sweep(older_than)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as trouble:
            log.warning("outbox not swept", extra={"error": repr(trouble)})
            continue
        if swept:
            log.info("outbox swept: jobs published late", extra={"published": swept})
