"""Sending staged entries right after their commit, off the writer's path.

A writer whose request or job stands whether or not its jobs are confirmed yet hands its
entries over after commit and goes on: it never waits for RabbitMQ. One task per process
publishes what was handed over; entries handed over while a batch is out go in the next
batch, so a burst of commits costs one transaction per batch, not one per commit. A
batch's rows stay locked (FOR UPDATE SKIP LOCKED) while they are published, as the
sweeper's do, so the two never publish the same entry at once. Entries the broker did
not confirm (slow, or away) are tried again after RETRY_PAUSE, as long as they are still
staged and nobody else holds them; whatever the process could not keep in memory, or did
not send before it stopped, stays staged for the sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import asyncpg

from ..publisher import Publisher
from .entries import OutboxEntry
from .publishing import publish_locked
from .store import lock_entries

log = logging.getLogger(__name__)

BATCH = 2000
# Entries waiting for their turn at most; beyond, they are left to the sweeper (they are
# staged already), so a broker outage never piles them up in memory.
MAX_WAITING = 10 * BATCH
# Pause before entries the broker did not confirm are tried again.
RETRY_PAUSE = 1.0
_TROUBLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class BackgroundSender:
    """Publishes handed-over entries in one task, batch after batch."""

    def __init__(self, pool: asyncpg.Pool, publisher: Publisher, batch: int = BATCH) -> None:
        self.pool = pool
        self.publisher = publisher
        self.batch = batch
        self._pending: list[OutboxEntry] = []
        self._task: asyncio.Task[None] | None = None
        self._refused = False  # the last batch was not (all) confirmed
        self._overflowing = False  # the last hand-over did not fit (logged once)

    def hand_over(self, entries: Sequence[OutboxEntry]) -> None:
        """Publish `entries` soon; call it once their transaction has committed."""
        if not entries:
            return
        self._wait(entries)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="outbox-send")

    @property
    def pending(self) -> int:
        """Entries handed over and not yet through a publish."""
        return len(self._pending)

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for what was handed over; the rest is left to
        the sweeper (still staged)."""
        task = self._task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log.warning("outbox entries left to the sweeper at exit", extra={"left": self.pending})

    def _wait(self, entries: Sequence[OutboxEntry]) -> None:
        room = max(MAX_WAITING - len(self._pending), 0)
        if room < len(entries) and not self._overflowing:
            log.warning(
                "outbox entries left to the sweeper: too many waiting",
                extra={"entries": len(entries) - room, "waiting": len(self._pending)},
            )
        self._overflowing = room < len(entries)
        self._pending.extend(entries[:room])

    async def _run(self) -> None:
        while self._pending:
            batch = self._pending[: self.batch]
            del self._pending[: self.batch]
            try:
                unconfirmed = await self._send(batch)
            except _TROUBLE as trouble:
                log.warning(
                    "outbox entries not sent; left to the sweeper",
                    extra={"entries": len(batch), "error": repr(trouble)},
                )
                continue
            if unconfirmed:
                await asyncio.sleep(RETRY_PAUSE)
                self._wait(unconfirmed)

    async def _send(self, batch: list[OutboxEntry]) -> list[OutboxEntry]:
        """Publish the entries of `batch` nobody else holds; returns those the broker did
        not confirm (still staged)."""
        async with self.pool.acquire() as connection, connection.transaction():
            mine = await lock_entries(connection, [e.id for e in batch])
            taken = [e for e in batch if e.id in mine]
            published = await publish_locked(connection, self.publisher, taken)
        confirmed = {e.id for e in published.confirmed}
        unconfirmed = [e for e in taken if e.id not in confirmed]
        if unconfirmed and not self._refused:
            log.warning(
                "outbox entries not confirmed; trying again",
                extra={"entries": len(unconfirmed), "error": repr(published.error)},
            )
        elif self._refused and not unconfirmed:
            log.info("outbox entries confirmed again")
        self._refused = bool(unconfirmed)
        return unconfirmed
