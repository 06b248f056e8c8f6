"""The relay: publishes entries staged `by_relay` as soon as their transaction commits.

A writer that must not wait for RabbitMQ (a request answered once committed, a periodic
job whose run is its SQL) stages its jobs `by_relay` and goes on; its commit delivers a
NOTIFY. The relay in each worker that runs one (`run_worker(relay_outbox=True)`) LISTENs
for it and publishes every relayed entry when woken, and every OUTBOX_SWEEP_INTERVAL
anyway, since a NOTIFY sent while it reconnects is lost. Relays of several workers
split the entries (FOR UPDATE SKIP LOCKED, as the sweeper's batches), and a burst of
commits during one round is taken by the next round, batch by batch. When the broker does
not confirm, the entries stay staged and the relay tries again after RETRY_PAUSE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from ..publisher import Publisher
from .publishing import publish_locked
from .store import RELAY_CHANNEL, lock_relayed_entries

log = logging.getLogger(__name__)

BATCH = 2000
# Pause after Postgres or RabbitMQ trouble before trying again.
RETRY_PAUSE = 1.0
_TROUBLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class OutboxRelay:
    """LISTENs on its own connection and publishes relayed entries, for one process."""

    def __init__(
        self, pool: asyncpg.Pool, publisher: Publisher, database_url: str, every: float
    ) -> None:
        self.pool = pool
        self.publisher = publisher
        self.database_url = database_url
        self.every = every
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def publish_pending(self) -> tuple[int, BaseException | None]:
        """Publish every relayed entry (confirmed), batch by batch: how many, and the
        broker's refusal that stopped the round, if one did."""
        published = 0
        while True:
            async with self.pool.acquire() as connection, connection.transaction():
                entries = await lock_relayed_entries(connection, BATCH)
                batch = await publish_locked(connection, self.publisher, entries)
            published += len(batch.confirmed)
            if batch.error is not None or len(entries) < BATCH:
                return published, batch.error

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            listener: asyncpg.Connection | None = None
            try:
                # Its own connection, not the pool's: it is held for the process's life.
                listener = await asyncpg.connect(self.database_url)
                await listener.add_listener(RELAY_CHANNEL, self._notified)
                self._wake.set()  # what was committed while nobody listened
                while not listener.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.every)
                    self._wake.clear()
                    _, refused = await self.publish_pending()
                    if refused is not None:
                        log.warning("relayed jobs not confirmed", extra={"error": repr(refused)})
                        await asyncio.sleep(RETRY_PAUSE)
                        self._wake.set()
            except _TROUBLE as trouble:
                log.warning("outbox relay interrupted; retrying", extra={"error": repr(trouble)})
                await asyncio.sleep(RETRY_PAUSE)
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(listener.close(), 1)
