"""Per-user API limits of the sms endpoints: N per window, counted in Redis.

The seed system's limits are Laravel `RateLimiter::attempt` ones ("100 SMS per minute",
"5 campaigns per hour"): a fixed window opened by the first hit. A refilling bucket
would let the 101st send of a burst through a second later, so this counts instead.
One Lua script, so replicas never race between the increment and the expiry.
"""

from __future__ import annotations

from common.errors import LimitExceeded
from redis.asyncio import Redis

# -> 0 when allowed, else milliseconds until the window ends
_WINDOW = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if count > tonumber(ARGV[2]) then return ttl end
return 0
"""


async def within_window(redis: Redis, key: str, limit: int, window: float, what: str) -> None:
    """Count one hit on `key`; LimitExceeded (429 + Retry-After) beyond `limit` per `window` s."""
    script = redis.register_script(_WINDOW)
    wait_ms = int(await script(keys=[key], args=[int(window * 1000), limit]))
    if wait_ms:
        raise LimitExceeded(wait_ms / 1000, f"at most {limit} {what} per {window:g}s")


_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""


async def give_back(redis: Redis, key: str) -> None:
    """Un-count one hit on `key`: a request found invalid only after it was counted (an
    upload is read after its hit) must not use up the quota."""
    await redis.register_script(_GIVE_BACK)(keys=[key])
