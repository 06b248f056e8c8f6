"""Calls made at about the same time, run as one batch: one transaction and one round trip
for many small writes, while every caller still awaits (and handles) its own result.

A batch opens with its first call and runs `window` seconds later, or as soon as it holds
`max_size` calls. At most `max_running` batches run at once; calls arriving meanwhile wait
for one to finish and go together (group commit: the slower the batches, the larger they
get). `run` answers one result per item, in order (an exception in a slot is raised to
that caller only); when `run` itself raises, every caller of the batch gets it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """Gathers items submitted concurrently into batches for `run`."""

    def __init__(
        self,
        run: Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]],
        *,
        max_size: int = 100,
        window: float = 0.002,
        max_running: int = 2,
    ) -> None:
        self.run = run
        self.max_size = max_size
        self.window = window
        self.max_running = max_running
        self._items: list[Item] = []
        self._waiters: list[asyncio.Future[Result]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """`item`'s result, once the batch it joined has run."""
        waiter: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._items.append(item)
        self._waiters.append(waiter)
        if len(self._items) >= self.max_size:
            self._close()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window, self._close)
        return await waiter

    def _close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # Past `max_running`, the next batch starts when a running one ends.
        while self._items and len(self._running) < self.max_running:
            items, waiters = self._items[: self.max_size], self._waiters[: self.max_size]
            del self._items[: self.max_size], self._waiters[: self.max_size]
            task = asyncio.create_task(self._run(items, waiters))
            self._running.add(task)  # held until done: a bare task may be collected
            task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._items:
            self._close()

    async def _run(self, items: list[Item], waiters: list[asyncio.Future[Result]]) -> None:
        try:
            results = await self.run(items)
            if len(results) != len(items):
                raise RuntimeError(f"a batch of {len(items)} answered {len(results)} results")
        except BaseException as failure:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(failure)
            if isinstance(failure, asyncio.CancelledError):
                raise
            return
        for waiter, result in zip(waiters, results, strict=True):
            if waiter.done():
                continue  # its caller was cancelled (e.g. the process is stopping)
            if isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)
