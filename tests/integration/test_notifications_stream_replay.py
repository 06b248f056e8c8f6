"""The SSE stream's ordering rules against real Postgres: replay, gap backfill, no duplicates.

The live side is driven through EventHub.dispatch (what the relay calls for each event),
so every combination of lost, late and duplicated events can be produced on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from common.live import EventHub
from common.migrations import RUNTIME, installed_schemas, migrate
from notifications.api import store
from notifications.api.stream import notification_events
from notifications.contracts import CreateNotification, Notification


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    schemas = [s for s in installed_schemas() if s.name == "notifications"]
    await asyncio.to_thread(migrate, fresh_database_url, [RUNTIME, *schemas])
    created = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4)
    yield created
    await created.close()


def _hub() -> EventHub[Notification]:
    hub: EventHub[Notification] = EventHub(["amqp://unused"], buffer=100, decode=_unused)
    hub.ready.set()  # the relay is not under test here
    return hub


def _unused(body: bytes) -> tuple[str, Notification]:
    raise AssertionError("the relay is not under test here")


async def _store(pool: asyncpg.Pool, title: str, user_id: str = "u1") -> Notification:
    return await store.insert_notification(
        pool, CreateNotification(user_id=user_id, title=title, message="m")
    )


async def _next_event(stream: AsyncIterator[str]) -> dict[str, Any] | None:
    """The next notification event (None for the opening comment and heartbeats)."""
    chunk = await asyncio.wait_for(anext(stream), 5)
    if not chunk.startswith("id: "):
        return None
    lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines())
    return {
        **Notification.model_validate_json(lines["data"]).model_dump(),
        "event_id": int(lines["id"]),
    }


async def _events(stream: AsyncIterator[str], count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while len(found) < count:
        event = await _next_event(stream)
        if event is not None:
            found.append(event)
    return found


async def test_replay_after_last_event_id_then_live_without_duplicates(pool: asyncpg.Pool) -> None:
    first, second, third = [await _store(pool, title) for title in ("a", "b", "c")]
    hub = _hub()
    stream = notification_events(hub, pool, "u1", last_event_id=first.seq, heartbeat=30)
    assert await _next_event(stream) is None  # opening comment
    replayed = await _events(stream, 2)
    assert [e["title"] for e in replayed] == ["b", "c"]
    assert [e["event_id"] for e in replayed] == [second.seq, third.seq]

    # The live copies of already-replayed notifications are dropped; the next one passes.
    hub.dispatch("u1", third)
    fourth = await _store(pool, "d")
    hub.dispatch("u1", fourth)
    assert [e["title"] for e in await _events(stream, 1)] == ["d"]
    await stream.aclose()


async def test_lost_live_event_is_backfilled_from_postgres_in_order(pool: asyncpg.Pool) -> None:
    hub = _hub()
    await _store(pool, "before the stream")
    stream = notification_events(hub, pool, "u1", last_event_id=None, heartbeat=30)
    assert await _next_event(stream) is None
    lost = await _store(pool, "lost")  # its event never reaches this replica
    late = await _store(pool, "late")
    hub.dispatch("u1", late)
    delivered = await _events(stream, 2)
    assert [e["title"] for e in delivered] == ["lost", "late"]
    assert [e["event_id"] for e in delivered] == [lost.seq, late.seq]
    hub.dispatch("u1", lost)  # arrives late: dropped
    newest = await _store(pool, "newest")
    hub.dispatch("u1", newest)
    assert [e["title"] for e in await _events(stream, 1)] == ["newest"]
    await stream.aclose()


async def test_streams_get_only_their_users_events_and_unsubscribe_on_close(
    pool: asyncpg.Pool,
) -> None:
    hub = _hub()
    mine = notification_events(hub, pool, "u1", last_event_id=None, heartbeat=30)
    assert await _next_event(mine) is None
    assert hub.stream_count == 1
    other = await _store(pool, "for someone else", user_id="u2")
    hub.dispatch("u2", other)
    own = await _store(pool, "mine")
    hub.dispatch("u1", own)
    assert [e["title"] for e in await _events(mine, 1)] == ["mine"]
    await mine.aclose()
    assert hub.stream_count == 0


async def test_idle_stream_sends_heartbeat_comments(pool: asyncpg.Pool) -> None:
    stream = notification_events(_hub(), pool, "u1", last_event_id=None, heartbeat=0.05)
    assert (await anext(stream)).startswith("retry: ")
    assert await asyncio.wait_for(anext(stream), 2) == ": heartbeat\n\n"
    await stream.aclose()


async def test_concurrent_writers_number_one_users_notifications_without_gaps(
    pool: asyncpg.Pool,
) -> None:
    stored = await asyncio.gather(*(_store(pool, f"n{i}") for i in range(40)))
    assert sorted(n.seq for n in stored) == list(range(1, 41))
    again = await store.insert_notification(
        pool, CreateNotification(id=stored[0].id, user_id="u1", title="dup", message="m")
    )
    assert again.seq == stored[0].seq and again.title == stored[0].title
    assert await store.latest_seq(pool, "u1") == 40
