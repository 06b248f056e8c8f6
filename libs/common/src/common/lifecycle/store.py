"""Reads the lifecycle records for the dashboard and the alerts."""

from __future__ import annotations

import json
import time

from redis.asyncio import Redis

from ..settings import RuntimeSettings
from .records import AttemptRecord, JobRecord, Keys, MinuteStats, MonitoredTag, WorkerStatus


class LifecycleStore:
    """Reads the lifecycle records for the dashboard and the alerts."""

    def __init__(self, redis: Redis, settings: RuntimeSettings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.redis_key_prefix)

    async def get(self, message_id: str) -> JobRecord | None:
        raw = await self.redis.get(self.keys.job(message_id))
        return None if raw is None else JobRecord.model_validate_json(raw)

    async def recent(self, limit: int = 50, query: str = "") -> list[JobRecord]:
        """Newest first; `query` is a message id, a `tag:value` (see tags_of) or a bare id."""
        query = query.strip()
        if not query:
            return await self._load(self.keys.recent, limit)
        exact = await self.get(query)
        if exact is not None:
            return [exact]
        tag = query if ":" in query else f"any:{query}"
        found = await self._load(self.keys.tag(tag), limit)
        if not found and ":" not in query:
            found = await self._load(self.keys.tag(f"type:{query}"), limit)
        return found

    async def failed(self, limit: int = 50) -> list[JobRecord]:
        return await self._load(self.keys.failed, limit)

    async def recent_count(self, now: float | None = None) -> int:
        """Jobs in the recent list (silenced ones are not), within its retention window."""
        now = time.time() if now is None else now
        since = now - self.settings.lifecycle_recent_seconds
        return int(await self.redis.zcount(self.keys.recent, since, "+inf"))

    async def attempts(self, message_id: str) -> list[AttemptRecord]:
        """Every recorded attempt of a message, oldest first."""
        raws = await self.redis.lrange(self.keys.attempts(message_id), 0, -1)
        return [AttemptRecord.model_validate_json(raw) for raw in raws]

    async def monitored(self) -> list[MonitoredTag]:
        """The monitored tags with their done and failed counts, by tag."""
        tags = sorted(_text(tag) for tag in await self.redis.smembers(self.keys.monitored))
        if not tags:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for tag in tags:
            pipe.hgetall(self.keys.monitored_counts(tag))
        rows: list[dict[bytes, bytes]] = await pipe.execute()
        return [
            MonitoredTag(tag=tag, done=int(row.get(b"done", 0)), failed=int(row.get(b"failed", 0)))
            for tag, row in zip(tags, rows, strict=True)
        ]

    async def monitor(self, tag: str) -> bool:
        """Pin `tag`: its jobs are kept longer and counted; False if it already was."""
        return bool(await self.redis.sadd(self.keys.monitored, tag))

    async def stop_monitoring(self, tag: str) -> bool:
        """Unpin `tag` and drop its counts; its records expire on their own."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.srem(self.keys.monitored, tag)
        pipe.delete(self.keys.monitored_counts(tag))
        removed, _ = await pipe.execute()
        return bool(removed)

    async def _load(self, index: str, limit: int) -> list[JobRecord]:
        ids = await self.redis.zrevrange(index, 0, limit - 1)
        if not ids:
            return []
        raws = await self.redis.mget([self.keys.job(_text(i)) for i in ids])
        return [JobRecord.model_validate_json(raw) for raw in raws if raw is not None]

    async def minutes(self, count: int = 60, now: float | None = None) -> list[MinuteStats]:
        """The last `count` minutes, oldest first (empty minutes included)."""
        current = int((now or time.time()) // 60) * 60
        starts = [current - 60 * i for i in range(count - 1, -1, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(self.keys.minute(start))
        rows: list[dict[bytes, bytes]] = await pipe.execute()
        stats = []
        for start, row in zip(starts, rows, strict=True):
            values = {k.decode(): float(v) for k, v in row.items()}
            stats.append(
                MinuteStats(
                    minute=start,
                    done=int(values.get("done", 0)),
                    failed=int(values.get("failed", 0)),
                    retried=int(values.get("retried", 0)),
                    other=int(values.get("other", 0)),
                    runtime_sum=values.get("runtime", 0.0),
                )
            )
        return stats

    async def workers(self) -> list[WorkerStatus]:
        ids = await self.redis.zrange(self.keys.workers, 0, -1)
        if not ids:
            return []
        raws = await self.redis.mget([self.keys.worker(_text(i)) for i in ids])
        found = [WorkerStatus.model_validate_json(raw) for raw in raws if raw is not None]
        return sorted(found, key=lambda w: w.id)

    async def oldest_waits(
        self, ready: dict[str, int], now: float | None = None
    ) -> dict[str, float]:
        """Estimated wait of each queue's oldest ready job, in seconds.

        Quorum queues report no head_message_timestamp, and peeking at the head
        (basic.get + requeue) would spend the message's delivery limit. So the wait is
        bounded from two sides we can observe, both upper bounds for a FIFO queue:
        - since when the queue has had ready messages (sampled by each caller; the
          head arrived after the last sample that saw it empty);
        - the wait of the latest job a worker started plus the time since it started
          (the head was enqueued after that job).
        The smaller bound is the estimate: tight while workers consume, and growing
        one second per second when nothing does.
        """
        now = time.time() if now is None else now
        empty = [name for name, count in ready.items() if count <= 0]
        busy = [name for name, count in ready.items() if count > 0]
        pipe = self.redis.pipeline(transaction=False)
        if empty:
            pipe.hdel(self.keys.backlog_since, *empty)
        for name in busy:
            pipe.hsetnx(self.keys.backlog_since, name, now)
        await pipe.execute()
        waits = dict.fromkeys(empty, 0.0)
        if not busy:
            return waits
        since_raw = await self.redis.hmget(self.keys.backlog_since, busy)
        last_raw = await self.redis.hmget(self.keys.last_start, busy)
        for name, since, last in zip(busy, since_raw, last_raw, strict=True):
            bound = now - float(since) if since is not None else 0.0
            if last is not None:
                started = json.loads(last)
                bound = min(bound, float(started["wait"]) + now - float(started["started_at"]))
            waits[name] = max(0.0, bound)
        return waits


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
