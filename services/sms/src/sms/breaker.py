"""A circuit breaker per provider, in Redis so every sms worker shares it.

After SMS_BREAKER_FAILURES consecutive transient failures it opens for
SMS_BREAKER_COOLDOWN seconds: jobs wait (RetryLater, no attempt spent). Then one probe
goes through: success closes it, failure re-opens it. Redis's clock is used so workers
with skewed clocks agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from common.telemetry import metrics
from redis.asyncio import Redis

PROVIDERS = ("log", "http", "twilio")


def breaker_key(prefix: str, provider: str) -> str:
    """The Redis hash holding a provider's breaker (`failures`, `open_until` in epoch ms)."""
    return f"{prefix}sms:breaker:{provider}"


def breaker_state(fields: Mapping[str, str], now_ms: int) -> dict[str, object]:
    """A breaker hash as the ops API shows it: closed, open (with seconds left) or half_open."""
    failures = int(fields.get("failures", 0))
    open_until = int(fields.get("open_until", 0))
    if not open_until:
        return {"state": "closed", "failures": failures, "retry_in": 0.0}
    if now_ms < open_until:
        return {"state": "open", "failures": failures, "retry_in": (open_until - now_ms) / 1000}
    return {"state": "half_open", "failures": failures, "retry_in": 0.0}


_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# -> {mode, wait_ms, failures}
_ALLOW = (
    _NOW_MS
    + """
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until == 0 then return {0, 0, failures} end
if now < open_until then return {1, open_until - now, failures} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return {2, 0, failures} end
return {3, 500, failures}
"""
)

# ARGV: threshold, cooldown_ms, probe (1/0) -> 1 when this failure opened the breaker
_FAILURE = (
    _NOW_MS
    + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if ARGV[3] == '1' or failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[2]))
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""
)


class Mode(IntEnum):
    closed = 0
    open = 1
    probe = 2  # cooldown over and this caller is the one probe
    probing = 3  # cooldown over, another worker is probing


@dataclass(frozen=True)
class Permit:
    mode: Mode
    wait: float  # seconds to wait when not allowed
    failures: int

    @property
    def allowed(self) -> bool:
        return self.mode in (Mode.closed, Mode.probe)


class Breaker:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        provider: str,
        failures: int,
        cooldown: float,
        probe_ttl: float,
    ) -> None:
        self.provider = provider
        self.key = breaker_key(prefix, provider)
        self.probe_key = f"{self.key}:probe"
        self.redis = redis
        self.threshold = failures
        self.cooldown_ms = int(cooldown * 1000)
        self.probe_ttl_ms = int(probe_ttl * 1000)
        self._allow = redis.register_script(_ALLOW)
        self._failure = redis.register_script(_FAILURE)

    async def permit(self) -> Permit:
        mode, wait_ms, failures = await self._allow(
            keys=[self.key, self.probe_key], args=[self.probe_ttl_ms]
        )
        permit = Permit(Mode(int(mode)), int(wait_ms) / 1000, int(failures))
        metrics.BREAKER_OPEN.labels(self.provider).set(0 if permit.mode is Mode.closed else 1)
        return permit

    async def succeeded(self, permit: Permit) -> None:
        # Most sends find the breaker clean: skip the round trip then.
        if permit.mode is Mode.probe or permit.failures:
            await self.redis.delete(self.key, self.probe_key)
            metrics.BREAKER_OPEN.labels(self.provider).set(0)

    async def release(self, permit: Permit) -> None:
        """Give the probe token back unused (its message needed no provider call), so the
        next caller probes at once instead of after the token's TTL."""
        if permit.mode is Mode.probe:
            await self.redis.delete(self.probe_key)

    async def failed(self, permit: Permit) -> bool:
        """Count a transient failure; True when it opened (or re-opened) the breaker."""
        opened = await self._failure(
            keys=[self.key, self.probe_key],
            args=[self.threshold, self.cooldown_ms, 1 if permit.mode is Mode.probe else 0],
        )
        if opened:
            metrics.BREAKER_OPEN.labels(self.provider).set(1)
        return bool(opened)
