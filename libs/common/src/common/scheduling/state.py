"""Where the scheduler records each job's last published slot, for the ops API to show."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from redis.asyncio import Redis


def schedule_state_key(prefix: str, job: str) -> str:
    """Redis key where the scheduler records the last slot it published for `job`."""
    return f"{prefix}schedule:last:{job}"


@dataclass(frozen=True)
class LastRun:
    slot: int
    published_at: float  # unix time


async def record_run(redis: Redis, prefix: str, job: str, slot: int) -> None:
    """Note that `slot` of `job` was published just now."""
    await redis.set(
        schedule_state_key(prefix, job), json.dumps({"slot": slot, "published_at": time.time()})
    )


async def last_run(redis: Redis, prefix: str, job: str) -> LastRun | None:
    """The last slot published for `job`, if any (RedisError when Redis is away)."""
    raw = await redis.get(schedule_state_key(prefix, job))
    if not raw:
        return None
    last = json.loads(raw)
    return LastRun(int(last["slot"]), float(last["published_at"]))
