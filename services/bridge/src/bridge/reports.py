"""What the bridge tells operators: relay_laravel_jobs_total{class,outcome} on its own
/metrics (METRICS_PORT), the same counts added up across replicas in Redis for the
gateway's /metrics, and the Laravel queues it consumes (depth, consumers) for the ops API,
`relay queues` and the dashboard. Written off the hot path, every second or few."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable

from common.laravel import JOBS_METRIC, LaravelQueue, add_job_counts, record_queues
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .queues import retry_queue_name

log = logging.getLogger("relay.bridge")

LARAVEL_JOBS = Counter(
    JOBS_METRIC,
    "Laravel jobs this bridge handled, by job class and outcome",
    ["class", "outcome"],
)
# Classes come from the messages: past this many distinct ones, the rest count as "other",
# so a stream of odd class names cannot grow the metric without bound.
MAX_CLASSES = 200
COUNTS_EVERY = 1.0
QUEUES_EVERY = 5.0

Depth = Callable[[str], Awaitable[tuple[int, int]]]


class Reports:
    """Counts of handled jobs, and the Laravel queues' status, sent out periodically."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        queues: list[str],
        depth: Depth,
        on_relay_broker: bool,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.queues = queues
        self.depth = depth
        self.on_relay_broker = on_relay_broker
        self._pending: Tally[tuple[str, str]] = Tally()
        self._classes: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def count(self, job_class: str | None, outcome: str) -> None:
        name = (job_class or "unreadable")[:200]
        if name not in self._classes:
            if len(self._classes) >= MAX_CLASSES:
                name = "other"
            else:
                self._classes.add(name)
        LARAVEL_JOBS.labels(name, outcome).inc()
        self._pending[(name, outcome)] += 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bridge-reports")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError, OSError):
            await self._flush_counts()

    async def _run(self) -> None:
        next_queues = 0.0
        while True:
            try:
                await self._flush_counts()
                if time.monotonic() >= next_queues:
                    next_queues = time.monotonic() + QUEUES_EVERY
                    await self._report_queues()
            except (RedisError, OSError) as trouble:
                log.warning("bridge reports not written", extra={"error": repr(trouble)})
            except Exception as trouble:  # a broker hiccup in a depth probe: try next time
                log.warning("laravel queue depth unknown", extra={"error": repr(trouble)})
            await asyncio.sleep(COUNTS_EVERY)

    async def _flush_counts(self) -> None:
        pending, self._pending = self._pending, Tally()
        try:
            await add_job_counts(self.redis, self.prefix, pending)
        except BaseException:
            self._pending.update(pending)  # kept for the next flush
            raise

    async def _report_queues(self) -> None:
        statuses = []
        for name in self.queues:
            ready, consumers = await self.depth(name)
            statuses.append(
                LaravelQueue(
                    name=name,
                    retry_queue=retry_queue_name(name),
                    on_relay_broker=self.on_relay_broker,
                    ready=ready,
                    consumers=consumers,
                    seen_at=time.time(),
                )
            )
        await record_queues(self.redis, self.prefix, statuses)
