"""Rate limits in Redis (GCRA in one Lua script): atomic across every process."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from .errors import LimitExceeded, RetryLater

# Generic cell rate algorithm: store the theoretical arrival time (TAT) per key. The
# server's clock is used so that replicas with skewed clocks agree.
_GCRA = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
"""


@dataclass(frozen=True)
class Rate:
    """`limit` events per `period` seconds, allowing a burst of `burst` (default: limit)."""

    limit: float
    period: float
    burst: int | None = None

    @property
    def interval_us(self) -> int:
        return int(self.period / self.limit * 1_000_000)

    @property
    def tolerance_us(self) -> int:
        return self.interval_us * (self.burst if self.burst is not None else int(self.limit))


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "relay:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_GCRA)

    async def try_acquire(self, key: str, rate: Rate, cost: int = 1) -> float:
        """Take `cost` tokens; returns 0 when allowed, else seconds until it would be."""
        allowed, wait_us = await self._script(
            keys=[f"{self.prefix}rate:{key}"], args=[rate.interval_us, rate.tolerance_us, cost]
        )
        return 0.0 if allowed else int(wait_us) / 1_000_000

    async def check(self, key: str, rate: Rate, cost: int = 1) -> None:
        """API limit: raise LimitExceeded (answered 429 + Retry-After) when over."""
        wait = await self.try_acquire(key, rate, cost)
        if wait:
            raise LimitExceeded(wait, f"rate limit of {rate.limit:g} per {rate.period:g}s reached")

    async def throttle(self, key: str, rate: Rate, cost: int = 1) -> None:
        """Worker throttle: raise RetryLater, so the job waits without spending an attempt."""
        wait = await self.try_acquire(key, rate, cost)
        if wait:
            raise RetryLater(wait, f"throttled by {key}")
