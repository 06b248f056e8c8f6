"""Periodic jobs that fire once per slot across every scheduler replica."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from ..topology import Queue


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
        return slot if await self.claim_slot(job, slot) else None

    async def claim_slot(self, job: PeriodicJob, slot: int) -> bool:
        """Win `slot` of `job`, or learn that another replica has. The claim outlives the
        slot by two periods, so a replica catching up the previous slot still sees it."""
        ttl_ms = max(1000, int(job.every * 3000))
        return bool(await self.redis.set(self.key(job, slot), "1", nx=True, px=ttl_ms))

    async def release(self, job: PeriodicJob, slot: int) -> None:
        """Give a claimed slot back (its publish failed), so a replica can retry it."""
        await self.redis.delete(self.key(job, slot))
