"""Open-loop load: requests leave on schedule whether or not earlier ones have finished,
so a slow answer cannot hold back the next request and hide its own latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def open_loop(rate: float, count: int, one: Callable[[int], Awaitable[None]]) -> None:
    """Start `one(i)` for i in range(count), `1 / rate` seconds apart; wait for them all."""
    tasks = []
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
