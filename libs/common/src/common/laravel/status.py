"""What the Laravel bridge tells the rest of Relay, through Redis: the Laravel queues it
consumes (with their depth, read on the Laravel broker, which may not be the one the ops
API asks), and how many Laravel jobs it handled, by class and outcome.

Kept in Redis because the readers (ops API, `relay queues`, the dashboard, the gateway's
/metrics) may run where the Laravel broker is not reachable, and the counts add up over
every bridge replica.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

# A queue nobody has reported for this long is no longer shown as a Laravel queue.
FORGET_AFTER = 24 * 3600.0
# The ready and consumer counts of a queue on another broker are trusted this long; an
# older record says nothing about consumers (no bridge is reporting).
FRESH_FOR = 30.0
JOBS_METRIC = "relay_laravel_jobs"


class LaravelQueue(BaseModel):
    """One Laravel queue as a bridge last saw it."""

    name: str
    # Where failed-job retries come back to the bridge, on the Relay broker.
    retry_queue: str
    # False when the Laravel app has a broker of its own (LARAVEL_RABBITMQ_URL).
    on_relay_broker: bool
    ready: int
    consumers: int
    seen_at: float

    @property
    def fresh(self) -> bool:
        return time.time() - self.seen_at <= FRESH_FOR


def _queues_key(prefix: str) -> str:
    return f"{prefix}laravel:queues"


def _jobs_key(prefix: str) -> str:
    return f"{prefix}laravel:jobs"


async def record_queues(redis: Redis, prefix: str, queues: list[LaravelQueue]) -> None:
    """Report `queues` (a bridge does it every few seconds)."""
    if queues:
        await redis.hset(_queues_key(prefix), mapping={q.name: q.model_dump_json() for q in queues})


async def laravel_queues(redis: Redis, prefix: str) -> list[LaravelQueue]:
    """The Laravel queues reported within FORGET_AFTER, by name."""
    found: dict[bytes, bytes] = await redis.hgetall(_queues_key(prefix))
    now = time.time()
    queues: list[LaravelQueue] = []
    for raw in found.values():
        try:
            queue = LaravelQueue.model_validate(json.loads(raw))
        except (ValueError, ValidationError):
            continue
        if now - queue.seen_at <= FORGET_AFTER:
            queues.append(queue)
    return sorted(queues, key=lambda q: q.name)


async def add_job_counts(redis: Redis, prefix: str, counts: Mapping[tuple[str, str], int]) -> None:
    """Add `counts` ((class, outcome) -> how many) to the totals of every bridge."""
    if not counts:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for (job_class, outcome), count in counts.items():
            pipe.hincrby(_jobs_key(prefix), json.dumps([job_class, outcome]), count)
        await pipe.execute()


async def job_counts(redis: Redis, prefix: str) -> dict[tuple[str, str], int]:
    """The totals of every bridge: (class, outcome) -> how many Laravel jobs."""
    found: dict[bytes, bytes] = await redis.hgetall(_jobs_key(prefix))
    counts: dict[tuple[str, str], int] = {}
    for key, value in found.items():
        try:
            job_class, outcome = json.loads(key)
            counts[(str(job_class), str(outcome))] = int(value)
        except (ValueError, TypeError):
            continue
    return counts


def job_counts_text(counts: Mapping[tuple[str, str], int]) -> bytes:
    """`counts` as the Prometheus counter relay_laravel_jobs_total{class,outcome}."""

    class _Totals:
        def collect(self) -> list[CounterMetricFamily]:
            family = CounterMetricFamily(
                JOBS_METRIC,
                "Laravel jobs the bridges handled, by job class and outcome (all replicas)",
                labels=["class", "outcome"],
            )
            for (job_class, outcome), count in sorted(counts.items()):
                family.add_metric([job_class, outcome], count)
            return [family]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Totals())
    text: bytes = generate_latest(registry)
    return text
