"""Job lifecycle records for the dashboard, kept in Redis for a retention window.

Like Horizon's recent / failed job lists: every settled attempt leaves a small record
(queue, type, outcome, attempt, runtime, wait, error, tags), recent ones for
LIFECYCLE_RECENT_SECONDS (1 h), failed ones for LIFECYCLE_FAILED_SECONDS (7 days).

The hot path only appends the outcome to a bounded in-memory buffer; a background task
turns the buffer into one pipelined Redis round trip every LIFECYCLE_FLUSH_INTERVAL.
When Redis is slow or down the buffer fills and further records are dropped (counted in
relay_lifecycle_dropped_total) rather than slowing or blocking jobs. The same flush
writes per-minute counters for the dashboard's charts and this worker's heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from . import metrics
from .settings import RuntimeSettings

if TYPE_CHECKING:
    from .consumer import JobOutcome

log = logging.getLogger(__name__)

# Minute buckets outlive the chart's hour a little, so the oldest bar is complete.
_BUCKET_TTL = 2 * 3600
_HEARTBEAT_EVERY = 5.0
_MAX_TAGS = 12
_MAX_PAYLOAD_FOR_TAGS = 64 * 1024


class JobRecord(BaseModel):
    """The latest settled attempt of one message."""

    id: str
    queue: str
    type: str
    outcome: str
    attempt: int
    duration: float
    wait: float | None = None
    error: str | None = None
    user_id: str | None = None
    tags: list[str] = []
    at: float


class WorkerStatus(BaseModel):
    """A worker process as its heartbeat describes it."""

    id: str
    service: str
    host: str
    pid: int
    concurrency: dict[str, int]
    in_flight: int
    started_at: float
    seen_at: float


class MinuteStats(BaseModel):
    """Attempts settled during one minute, over every queue."""

    minute: int  # epoch seconds of the minute's start
    done: int = 0
    failed: int = 0
    retried: int = 0
    other: int = 0
    runtime_sum: float = 0.0

    @property
    def processed(self) -> int:
        return self.done + self.failed + self.retried

    @property
    def average_runtime(self) -> float:
        attempts = self.done + self.failed + self.retried + self.other
        return self.runtime_sum / attempts if attempts else 0.0


class Keys:
    """Every Redis key of the lifecycle records, under REDIS_KEY_PREFIX."""

    def __init__(self, prefix: str) -> None:
        self.base = f"{prefix}ops:"
        self.recent = self.base + "recent"
        self.failed = self.base + "failed"
        self.workers = self.base + "workers"
        self.last_start = self.base + "last-start"
        self.backlog_since = self.base + "backlog-since"

    def job(self, message_id: str) -> str:
        return f"{self.base}job:{message_id}"

    def tag(self, tag: str) -> str:
        return f"{self.base}tag:{tag}"

    def minute(self, minute: int) -> str:
        return f"{self.base}minute:{minute}"

    def worker(self, worker_id: str) -> str:
        return f"{self.base}worker:{worker_id}"


def tags_of(user_id: str | None, job_type: str, body: bytes) -> list[str]:
    """Search tags: the user, the job type and every `<name>_id` field of the payload.

    `campaign_id` becomes `campaign:<id>`; each id is also indexed as `any:<id>` so a
    bare id pasted into the search box finds its jobs.
    """
    tags = [f"type:{job_type}"] if job_type else []
    if user_id:
        tags += [f"user:{user_id}", f"any:{user_id}"]
    if body and len(body) <= _MAX_PAYLOAD_FOR_TAGS:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            for name, value in payload.items():
                if name.endswith("_id") and isinstance(value, str | int) and value != "":
                    tags += [f"{name[:-3]}:{value}", f"any:{value}"]
    return list(dict.fromkeys(tags))[:_MAX_TAGS]


class LifecycleRecorder:
    """A worker's JobObserver that records outcomes off the hot path, in batches."""

    def __init__(
        self,
        redis: Redis,
        settings: RuntimeSettings,
        *,
        service: str,
        status: Callable[[], tuple[dict[str, int], int]] | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.redis_key_prefix)
        self.capacity = settings.lifecycle_buffer
        self.dropped = 0
        self._buffer: list[JobOutcome] = []
        self._status = status
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.worker_id = f"{service}@{socket.gethostname()}:{os.getpid()}"
        self._service = service
        self._started_at = time.time()
        self._next_heartbeat = 0.0

    async def observe(self, outcome: JobOutcome) -> None:
        """Buffer `outcome` (no I/O); drop it when the buffer is full."""
        if len(self._buffer) >= self.capacity:
            self.dropped += 1
            metrics.LIFECYCLE_DROPPED.inc()
            return
        self._buffer.append(outcome)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lifecycle-flush")

    async def stop(self) -> None:
        """Flush what is buffered, remove the heartbeat and end the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError, OSError):
            await self.flush()
            await self.redis.zrem(self.keys.workers, self.worker_id)
            await self.redis.delete(self.keys.worker(self.worker_id))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lifecycle_flush_interval)
            try:
                await self.flush()
            except (RedisError, OSError) as error:
                # Keep the buffer; it is bounded, so an outage costs records, not memory.
                log.warning("lifecycle records not written", extra={"error": repr(error)})

    async def flush(self) -> int:
        """Write the buffered records in one pipeline; returns how many."""
        batch, self._buffer = self._buffer, []
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        try:
            if batch:
                self._records(pipe, batch, now)
            if self._status is not None and now >= self._next_heartbeat:
                self._heartbeat(pipe, now)
                self._next_heartbeat = now + _HEARTBEAT_EVERY
            if len(pipe):
                await pipe.execute()
        except BaseException:
            # Put the batch back (newest last) so a transient error loses nothing.
            self._buffer = (batch + self._buffer)[-self.capacity :]
            raise
        return len(batch)

    def _records(self, pipe: Any, batch: list[JobOutcome], now: float) -> None:
        recent_ttl = self.settings.lifecycle_recent_seconds
        failed_ttl = self.settings.lifecycle_failed_seconds
        minutes: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        last_start: dict[str, str] = {}
        recent: dict[str, float] = {}
        failed: dict[str, float] = {}
        tagged: dict[str, dict[str, float]] = defaultdict(dict)
        # At thousands of jobs a second, a record per successful job would cost the worker
        # more than the jobs; past the cap they only count in the minute buckets.
        done_budget = int(
            self.settings.lifecycle_recent_per_second
            * max(self.settings.lifecycle_flush_interval, 1.0)
        )
        for outcome in batch:
            at = outcome.finished_at or now
            bucket = minutes[int(at // 60) * 60]
            kind = outcome.outcome if outcome.outcome in ("done", "failed", "retried") else "other"
            bucket[kind] += 1
            bucket["runtime"] += outcome.duration
            if outcome.wait is not None:
                last_start[outcome.queue] = json.dumps(
                    {"started_at": at - outcome.duration, "wait": outcome.wait}
                )
            if outcome.outcome == "done":
                if done_budget <= 0:
                    continue
                done_budget -= 1
            tags = tags_of(outcome.user_id, outcome.job_type, outcome.body)
            # A plain dict and json.dumps: the same fields as JobRecord, without building
            # a validated model per job in the flush (the flush shares the worker's loop).
            is_failed = outcome.outcome == "failed"
            message_id = outcome.message_id
            record = {
                "id": message_id,
                "queue": outcome.queue,
                "type": outcome.job_type,
                "outcome": outcome.outcome,
                "attempt": outcome.attempt,
                "duration": round(outcome.duration, 6),
                "wait": None if outcome.wait is None else round(outcome.wait, 6),
                "error": outcome.error[:2000] if outcome.error else None,
                "user_id": outcome.user_id,
                "tags": tags,
                "at": at,
            }
            pipe.set(
                self.keys.job(message_id),
                json.dumps(record),
                ex=failed_ttl if is_failed else recent_ttl,
            )
            recent[message_id] = at
            if is_failed:
                failed[message_id] = at
            for tag in tags:
                tagged[tag][message_id] = at
        if recent:
            pipe.zadd(self.keys.recent, recent)
        pipe.zremrangebyscore(self.keys.recent, "-inf", now - recent_ttl)
        if failed:
            pipe.zadd(self.keys.failed, failed)
        pipe.zremrangebyscore(self.keys.failed, "-inf", now - failed_ttl)
        for tag, members in tagged.items():
            key = self.keys.tag(tag)
            pipe.zadd(key, members)
            pipe.zremrangebyscore(key, "-inf", now - failed_ttl)
            pipe.expire(key, failed_ttl)
        for minute, counts in minutes.items():
            key = self.keys.minute(minute)
            for field_name, value in counts.items():
                if field_name == "runtime":
                    pipe.hincrbyfloat(key, field_name, value)
                else:
                    pipe.hincrby(key, field_name, int(value))
            pipe.expire(key, _BUCKET_TTL)
        if last_start:
            pipe.hset(self.keys.last_start, mapping=last_start)

    def _heartbeat(self, pipe: Any, now: float) -> None:
        assert self._status is not None
        concurrency, in_flight = self._status()
        host, _, pid = self.worker_id.partition("@")[2].rpartition(":")
        status = WorkerStatus(
            id=self.worker_id,
            service=self._service,
            host=host,
            pid=int(pid),
            concurrency=concurrency,
            in_flight=in_flight,
            started_at=self._started_at,
            seen_at=now,
        )
        pipe.set(
            self.keys.worker(self.worker_id), status.model_dump_json(), ex=int(_HEARTBEAT_EVERY * 3)
        )
        pipe.zadd(self.keys.workers, {self.worker_id: now})
        pipe.zremrangebyscore(self.keys.workers, "-inf", now - _HEARTBEAT_EVERY * 3)


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
        """Newest first; `query` is a message id, `tag:value` (type, user, campaign...) or a bare id."""
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
