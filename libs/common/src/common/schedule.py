"""Periodic jobs that fire once per slot across every scheduler replica."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from .topology import Queue


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    queue: Queue
    every: float  # seconds

    def slot(self, now: float) -> int:
        return math.floor(now / self.every)

    def next_run(self, now: float) -> float:
        return (self.slot(now) + 1) * self.every


class SlotLock:
    """Claims a job's slot in Redis with SET NX: the first replica to ask wins it."""

    def __init__(self, redis: Redis, prefix: str = "relay:") -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, job: PeriodicJob, slot: int) -> str:
        return f"{self.prefix}schedule:{job.name}:{slot}"

    async def claim(self, job: PeriodicJob, now: float | None = None) -> int | None:
        """The current slot if this caller won it, else None."""
        slot = job.slot(time.time() if now is None else now)
        ttl_ms = max(1000, int(job.every * 2000))
        won = await self.redis.set(self.key(job, slot), "1", nx=True, px=ttl_ms)
        return slot if won else None

    async def release(self, job: PeriodicJob, slot: int) -> None:
        """Give a claimed slot back (its publish failed), so a replica can retry it."""
        await self.redis.delete(self.key(job, slot))
