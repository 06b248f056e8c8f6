"""The Outbox: the one way a write and the jobs it causes become durable together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from ..envelope import Envelope, Job
from ..errors import BrokerUnavailable
from ..publisher import Publisher
from ..topology import Queue
from .entries import OutboxEntry, entries_for
from .publishing import publish_all
from .store import delete_entries, insert_entries
from .sweeper import sweep


class Outbox:
    """Stages jobs in the caller's transaction; sends, withdraws and sweeps them."""

    def __init__(self, pool: asyncpg.Pool, publisher: Publisher) -> None:
        self.pool = pool
        self.publisher = publisher

    async def stage(
        self,
        connection: asyncpg.Connection,
        jobs: Sequence[tuple[Queue, Job, Envelope]],
        *,
        by_relay: bool = False,
    ) -> list[OutboxEntry]:
        """Write `jobs` (queue, payload, envelope) in `connection`'s transaction. The
        envelope's message id is the one published, however many times.

        `by_relay`: the caller will not publish them; the relays do, as soon as the
        transaction commits (relay.py). Otherwise the caller `send`s them after commit.
        """
        entries = entries_for(jobs)
        if entries:
            await insert_entries(connection, entries, by_relay=by_relay)
        return entries

    async def send(self, entries: Sequence[OutboxEntry]) -> None:
        """Publish `entries` now (confirmed), then forget the confirmed ones: for a caller
        whose answer depends on the confirm.

        Raises BrokerUnavailable when any publish was not confirmed; those stay staged.
        """
        published = await publish_all(self.publisher, entries)
        if published.confirmed:
            await delete_entries(self.pool, [e.id for e in published.confirmed])
        if published.error is not None:
            raise published.error

    async def send_or_withdraw(
        self,
        entries: Sequence[OutboxEntry],
        undo: Callable[[asyncpg.Connection], Awaitable[None]],
    ) -> None:
        """`send`; when not confirmed, withdraw `entries` and run `undo` (delete the rows
        they belong to) in one transaction, then raise BrokerUnavailable: nothing happened
        and the client may retry. If the sweeper published them meanwhile, they are queued
        after all and this returns normally."""
        try:
            await self.send(entries)
        except BrokerUnavailable:
            async with self.pool.acquire() as connection, connection.transaction():
                withdrawn = await self.withdraw(connection, entries)
                if withdrawn:
                    await undo(connection)
            if withdrawn:
                raise

    async def withdraw(
        self, connection: asyncpg.Connection, entries: Sequence[OutboxEntry]
    ) -> bool:
        """Take back `entries` in `connection`'s transaction: True when none of them was
        published meanwhile (the sweeper takes an entry only once it is old), False when
        one was, so its rows must stay and the job counts as queued."""
        return await delete_entries(connection, [e.id for e in entries]) == len(entries)

    async def sweep(self, older_than: float) -> int:
        """Publish entries staged more than `older_than` seconds ago; returns how many."""
        return await sweep(self.pool, self.publisher, older_than)
