"""Autoscaled concurrency: each queue's prefetch follows its backlog, like Horizon's `auto` balancing.

Between WORKER_MIN_CONCURRENCY and WORKER_MAX_CONCURRENCY, every AUTOSCALE_INTERVAL
seconds: the wanted prefetch is what is running plus what is ready in the queue. A
backlog raises it at once (jobs are waiting); an idle queue lowers it by half the gap
per tick, and only once AUTOSCALE_COOLDOWN has passed since the last rise (or since
start: a worker starts at the maximum to absorb whatever piled up while it was down),
so a short lull does not throw away capacity that is about to be needed (Horizon
shifts by `balanceMaxShift` per `balanceCooldown` for the same reason). Queues whose
prefetch the service fixed (run_worker's `prefetch`) are left alone.
More capacity than one process gives comes from more processes (`--scale`, Procfile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

log = logging.getLogger(__name__)


class Scalable(Protocol):
    """What the autoscaler needs from a worker (common.consumer.Worker has it)."""

    prefetch: dict[str, int]

    def in_flight_of(self, queue_name: str) -> int: ...

    async def backlog(self, queue_name: str) -> int: ...

    async def set_concurrency(self, queue_name: str, prefetch: int) -> None: ...


def next_prefetch(current: int, running: int, ready: int, low: int, high: int) -> int:
    """The prefetch to use next, given what runs and what waits now."""
    wanted = max(low, min(high, running + ready))
    if wanted >= current:
        return wanted
    return max(wanted, current - max(1, (current - wanted) // 2))


def change_log_level(current: int, target: int, high: int) -> int:
    """How loudly to log a prefetch change: INFO only when a queue reaches the maximum.

    Ramping down while idle and moving with the backlog are routine (every worker does
    it after start and after each burst), so they stay at DEBUG and a quiet stack logs
    nothing periodic. Reaching WORKER_MAX_CONCURRENCY is worth reading: the backlog
    outgrows this process, and more replicas would help.
    """
    return logging.INFO if target == high and target > current else logging.DEBUG


class Autoscaler:
    """Adjusts a worker's per-queue prefetch to its backlog, in a background task."""

    def __init__(
        self, worker: Scalable, low: int, high: int, interval: float, cooldown: float = 0.0
    ) -> None:
        if low > high:
            raise ValueError(
                f"WORKER_MIN_CONCURRENCY ({low}) is above WORKER_MAX_CONCURRENCY ({high})"
            )
        self.worker = worker
        self.low = low
        self.high = high
        self.interval = interval
        self.cooldown = cooldown
        self._raised_at: dict[str, float] = {}
        self._started = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="autoscale")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception as error:
                # The broker may be reconnecting; keep the current prefetch and try again.
                log.warning("autoscale tick skipped", extra={"error": repr(error)})

    async def tick(self) -> None:
        """Look at every queue once and change the prefetch where it should move."""
        for name, current in list(self.worker.prefetch.items()):
            ready = await self.worker.backlog(name)
            running = self.worker.in_flight_of(name)
            target = next_prefetch(current, running, ready, self.low, self.high)
            now = time.monotonic()
            if target == current or (
                target < current and now - self._raised_at.get(name, self._started) < self.cooldown
            ):
                continue
            await self.worker.set_concurrency(name, target)
            if self.worker.prefetch.get(name) != target:
                continue  # fixed by the service
            if target > current:
                self._raised_at[name] = now
            log.log(
                change_log_level(current, target, self.high),
                "concurrency %s → %s",
                current,
                target,
                extra={"queue": name, "ready": ready, "in_flight": running},
            )
