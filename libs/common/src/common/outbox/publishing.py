"""Publishing staged entries: each with its own envelope, confirmed by the broker; a
locked batch settles in its transaction (confirmed entries leave, the others count an
attempt)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from ..publisher import Publisher
from .entries import OutboxEntry
from .store import delete_entries, record_failed_publish


@dataclass(frozen=True)
class Published:
    """What one batch came to: how many were confirmed, and the first refusal if any."""

    confirmed: list[OutboxEntry]
    error: BaseException | None


async def publish_entry(publisher: Publisher, entry: OutboxEntry) -> None:
    """Publish `entry` as it was staged (same message id, type and headers); confirmed."""
    await publisher.publish_body(
        entry.exchange, entry.routing_key, entry.body, entry.envelope.properties()
    )


async def publish_all(publisher: Publisher, entries: Sequence[OutboxEntry]) -> Published:
    """Publish `entries` at once (the publisher bounds how many are in flight)."""
    results = await asyncio.gather(
        *(publish_entry(publisher, entry) for entry in entries), return_exceptions=True
    )
    confirmed = [e for e, r in zip(entries, results, strict=True) if r is None]
    error = next((r for r in results if isinstance(r, BaseException)), None)
    return Published(confirmed, error)


async def publish_locked(
    connection: asyncpg.Connection, publisher: Publisher, entries: Sequence[OutboxEntry]
) -> Published:
    """Publish `entries`, whose rows `connection`'s transaction holds locked, and settle
    them in it: the confirmed ones are deleted, the others count a failed attempt."""
    published = await publish_all(publisher, entries)
    await delete_entries(connection, [e.id for e in published.confirmed])
    if published.error is not None:
        sent = {e.id for e in published.confirmed}
        await record_failed_publish(
            connection, [e.id for e in entries if e.id not in sent], repr(published.error)
        )
    return published
