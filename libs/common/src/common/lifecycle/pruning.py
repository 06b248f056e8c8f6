"""Pruning the dashboard's lifecycle records in Redis older than their retention.

Records also expire by themselves (LIFECYCLE_RECENT_SECONDS / LIFECYCLE_FAILED_SECONDS)
and the indexes are trimmed whenever a worker writes; RETENTION_DASHBOARD_RECORDS_DAYS is
the hard cap, applied even when no worker writes any more. Work is done `batch` members or
keys at a time (SCAN, never KEYS), so Redis is never blocked for long.
"""

from __future__ import annotations

from ..runtime import Runtime
from .records import Keys


async def prune_dashboard_records(runtime: Runtime, cutoff: float, batch: int) -> int:
    """Delete job records older than `cutoff` (epoch seconds) and trim every index;
    returns how many records and minute buckets went."""
    redis = runtime.redis
    keys = Keys(runtime.settings.redis_key_prefix)
    deleted = 0
    for index in (keys.recent, keys.failed):
        while True:
            old = await redis.zrangebyscore(index, "-inf", f"({cutoff}", start=0, num=batch)
            if not old:
                break
            ids = [m.decode() if isinstance(m, bytes) else str(m) for m in old]
            pipe = redis.pipeline(transaction=False)
            # A member's score is its latest record's time: its record is as old.
            pipe.delete(*(keys.job(message_id) for message_id in ids))
            pipe.zrem(index, *old)
            removed, _ = await pipe.execute()
            deleted += int(removed)
            if len(old) < batch:
                break
    async for tag in redis.scan_iter(match=keys.tag("*"), count=batch):
        await redis.zremrangebyscore(tag, "-inf", f"({cutoff}")
    old_minutes = []
    async for minute in redis.scan_iter(match=f"{keys.base}minute:*", count=batch):
        name = minute.decode() if isinstance(minute, bytes) else str(minute)
        began = name.rsplit(":", 1)[-1]
        if began.isdigit() and int(began) + 60 < cutoff:
            old_minutes.append(minute)
    for offset in range(0, len(old_minutes), batch):
        deleted += int(await redis.delete(*old_minutes[offset : offset + batch]))
    return deleted
