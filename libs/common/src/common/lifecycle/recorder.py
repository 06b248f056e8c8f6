"""Writes the lifecycle records: a worker's outcomes, minute counters and heartbeat.

The hot path only appends the outcome to a bounded in-memory buffer; a background task
turns the buffer into one pipelined Redis round trip every LIFECYCLE_FLUSH_INTERVAL.
When Redis is slow or down the buffer fills and further records are dropped (counted in
relay_lifecycle_dropped_total) rather than slowing or blocking jobs. The same flush
writes per-minute counters for the dashboard's charts and this worker's heartbeat.

Silenced job types (SILENCED_JOBS) leave no record unless they fail or are retried; they
still count in the minute counters. A job carrying a monitored tag is always recorded,
kept LIFECYCLE_MONITORED_SECONDS, and counted (done / failed) under that tag.
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
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..outcomes import JobOutcome
from ..settings import RuntimeSettings
from ..telemetry import metrics, tracing
from .records import ATTEMPTS_KEPT, PAYLOAD_PREVIEW, Keys, WorkerStatus, jsonable_headers, tags_of

# Logs under common.lifecycle: the logger its lines had before the split.
log = logging.getLogger("common.lifecycle")

# Minute buckets outlive the chart's hour a little, so the oldest bar is complete.
_BUCKET_TTL = 2 * 3600
_HEARTBEAT_EVERY = 5.0


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
                monitored = {_text(tag) for tag in await self.redis.smembers(self.keys.monitored)}
                self._records(pipe, batch, now, monitored)
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

    def _records(self, pipe: Any, batch: list[JobOutcome], now: float, monitored: set[str]) -> None:
        recent_ttl = self.settings.lifecycle_recent_seconds
        failed_ttl = self.settings.lifecycle_failed_seconds
        monitored_ttl = max(self.settings.lifecycle_monitored_seconds, failed_ttl)
        silenced = set(self.settings.silenced_jobs)
        spans = tracing.recent_traces()
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
            tags = tags_of(outcome.user_id, outcome.job_type, outcome.body) if monitored else None
            pinned = [tag for tag in tags or () if tag in monitored]
            is_failed = outcome.outcome == "failed"
            quiet = outcome.job_type in silenced and not is_failed and outcome.outcome != "retried"
            if not pinned:
                if quiet:
                    continue
                if outcome.outcome == "done":
                    if done_budget <= 0:
                        continue
                    done_budget -= 1
            if tags is None:
                tags = tags_of(outcome.user_id, outcome.job_type, outcome.body)
            # A plain dict and json.dumps: the same fields as JobRecord, without building
            # a validated model per job in the flush (the flush shares the worker's loop).
            message_id = outcome.message_id
            ttl = monitored_ttl if pinned else failed_ttl if is_failed else recent_ttl
            attempt = {
                "attempt": outcome.attempt,
                "outcome": outcome.outcome,
                "duration": round(outcome.duration, 6),
                "wait": None if outcome.wait is None else round(outcome.wait, 6),
                "error": outcome.error[:2000] if outcome.error else None,
                "at": at,
                "worker": self.worker_id,
                "trace_id": outcome.trace_id,
                "spans": spans.spans_under(outcome.trace_id, outcome.span_id)
                if spans is not None and outcome.trace_id and outcome.span_id
                else [],
            }
            attempts_key = self.keys.attempts(message_id)
            pipe.rpush(attempts_key, json.dumps(attempt))
            pipe.ltrim(attempts_key, -ATTEMPTS_KEPT, -1)
            pipe.expire(attempts_key, ttl)
            for tag in pinned:
                if outcome.outcome in ("done", "failed"):
                    pipe.hincrby(self.keys.monitored_counts(tag), outcome.outcome, 1)
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
                "payload": outcome.body[:PAYLOAD_PREVIEW].decode(errors="replace"),
                "headers": jsonable_headers(outcome.headers),
                "trace_id": outcome.trace_id,
                "worker": self.worker_id,
            }
            pipe.set(self.keys.job(message_id), json.dumps(record, default=str), ex=ttl)
            if not quiet:
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
            kept = monitored_ttl if tag in monitored else failed_ttl
            pipe.zadd(key, members)
            pipe.zremrangebyscore(key, "-inf", now - kept)
            pipe.expire(key, kept)
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


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
