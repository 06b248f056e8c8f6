"""A cancelled Redis call raises CancelledError: every periodic loop (prune, schedule,
alerts) stops at shutdown only because it does.

redis-py 8.0 and 8.1 sometimes returned the command's result to a cancelled task instead
(3 cancels in 200 here), and the gateway's shutdown then waited forever on its prune loop.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from tests.support.services import ServiceUrls


async def test_a_task_cancelled_mid_command_is_cancelled(
    services: ServiceUrls, redis_prefix: str
) -> None:
    client: Redis = Redis.from_url(services.redis, health_check_interval=10)
    key = f"{redis_prefix}:cancel-probe"
    swallowed: list[int] = []
    try:
        await client.ping()
        for attempt in range(300):
            task = asyncio.create_task(client.set(key, "1", nx=True, px=1000))
            # Cancel at a different point of the exchange each time: before the send,
            # while the reply is awaited, as it is parsed.
            for _ in range(attempt % 6):
                await asyncio.sleep(0)
            if not task.cancel():
                continue  # it had already finished: nothing to cancel
            try:
                await task
            except asyncio.CancelledError:
                continue
            swallowed.append(attempt)
    finally:
        await client.delete(key)
        await client.aclose()
    assert not swallowed, f"cancellation swallowed at attempts {swallowed[:10]}"
