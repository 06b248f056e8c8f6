"""One SSE stream: replay what the client missed from Postgres, then live events, no gaps.

Event ids are the user's notification `seq`. The order of work is what makes it exact:
subscribe to live events first, then read Postgres, then drop any live event at or
below the last id sent. A live event more than one above it means events were missed
(the user's `seq` commits in order, so every lower one is already stored): read them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
from common.live import EventHub

from ..contracts import Notification
from . import store

# Tells EventSource how long to wait before reconnecting (milliseconds).
_RETRY_MS = 2000
# How long a new stream waits for this replica's relay before going on without it.
_RELAY_WAIT = 5.0


def sse_event(notification: Notification) -> str:
    """One SSE `notification` event; JSON has no raw newlines, so one `data:` line."""
    return (
        f"id: {notification.seq}\nevent: notification\ndata: {notification.model_dump_json()}\n\n"
    )


async def notification_events(
    hub: EventHub[Notification],
    pool: asyncpg.Pool,
    user_id: str,
    last_event_id: int | None,
    heartbeat: float,
) -> AsyncIterator[str]:
    with hub.subscribe(user_id) as inbox:
        if not hub.ready.is_set():
            # Broker down: replay still works; live events resume with the relay.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.ready.wait(), _RELAY_WAIT)
        last_sent = (
            await store.latest_seq(pool, user_id) if last_event_id is None else last_event_id
        )
        yield f"retry: {_RETRY_MS}\n: stream open for {user_id}\n\n"
        async for notification in _read_missed(pool, user_id, last_sent, None):
            yield sse_event(notification)
            last_sent = notification.seq
        while True:
            try:
                notification = await asyncio.wait_for(inbox.get(), heartbeat)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if notification.seq <= last_sent:
                continue  # already sent by the replay or a backfill
            if notification.seq > last_sent + 1:
                async for missed in _read_missed(pool, user_id, last_sent, notification.seq - 1):
                    yield sse_event(missed)
                    last_sent = missed.seq
            yield sse_event(notification)
            last_sent = notification.seq


async def _read_missed(
    pool: asyncpg.Pool, user_id: str, after: int, upto: int | None
) -> AsyncIterator[Notification]:
    while True:
        page = await store.notifications_after(pool, user_id, after, upto=upto)
        for notification in page:
            yield notification
        if len(page) < 500:
            return
        after = page[-1].seq
