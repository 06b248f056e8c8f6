"""The outbox relay: publishes the follow-up jobs in the outbox as soon as they commit.

Whatever changes a tournament (a result or report in the gateway, a job in a worker)
writes the jobs that follow into the outbox and commits; none of them waits for RabbitMQ.
Every tournaments worker runs this relay: it LISTENs for the outbox's NOTIFY (sent on
commit by `outbox.add`) and publishes the unpublished rows when woken, and every
SWEEP_EVERY seconds anyway, since a notification sent while the listener reconnects is
lost. Several workers' relays split the rows (FOR UPDATE SKIP LOCKED), and a burst of
commits while one sweep runs is taken by the next sweep in one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from common.errors import BrokerUnavailable
from common.runtime import Runtime

from . import outbox

log = logging.getLogger("relay.tournaments.outbox")

SWEEP_EVERY = 5.0
# Pause after Postgres or RabbitMQ trouble before listening again.
RETRY_PAUSE = 1.0
_TROUBLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, BrokerUnavailable)


class OutboxRelay:
    def __init__(self, runtime: Runtime, sweep_every: float = SWEEP_EVERY) -> None:
        self.runtime = runtime
        self.sweep_every = sweep_every
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _notified(self, *_: object) -> None:
        self._wake.set()

    @property
    def _closing(self) -> bool:
        return bool(self.runtime.pool.is_closing())

    async def _run(self) -> None:
        while not self._closing:
            listener: asyncpg.Connection | None = None
            try:
                # Its own connection, not the pool's: it is held for the process's life.
                listener = await asyncpg.connect(self.runtime.settings.database_url)
                await listener.add_listener(outbox.CHANNEL, self._notified)
                self._wake.set()  # sweep what was committed while nobody listened
                while not listener.is_closed() and not self._closing:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.sweep_every)
                    self._wake.clear()
                    await outbox.publish_pending(self.runtime)
            except _TROUBLE as trouble:
                if self._closing:
                    return
                log.warning("outbox relay interrupted; retrying", extra={"error": repr(trouble)})
                await asyncio.sleep(RETRY_PAUSE)
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(listener.close(), 1)
