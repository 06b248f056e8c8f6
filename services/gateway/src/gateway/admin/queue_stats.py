"""Queue depths and rates from the RabbitMQ management API, with each queue's pause state
and, where RabbitMQ gives none, its oldest job's wait estimated from the lifecycle records.

Read only (nothing is audited): `GET /v1/ops/queues`, the dashboard, `relay queues` and
`relay top` all show these rows, the Laravel bridge's queues among them (`laravel`).
"""

from __future__ import annotations

import time
from collections.abc import Container
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from common.control import paused_queues
from common.laravel import LaravelQueue, laravel_queues
from common.lifecycle import LifecycleStore
from common.settings import RuntimeSettings
from common.topology import PARKED_SUFFIX
from pydantic import BaseModel
from redis.asyncio import Redis

# Queues RabbitMQ itself creates, not jobs of ours: the management API's
# `GET /api/aliveness-test/{vhost}` (used by monitoring probes) declares `aliveness-test`
# in the vhost and leaves it there.
BROKER_OWN_QUEUES = frozenset({"aliveness-test"})


class QueueSource(Protocol):
    """What reading the queues needs: the settings (management API, vhost) and Redis."""

    @property
    def settings(self) -> RuntimeSettings: ...
    @property
    def redis(self) -> Redis: ...


class QueueStats(BaseModel):
    name: str
    ready: int
    unacked: int
    consumers: int
    publish_rate: float
    deliver_rate: float
    delayed: int = 0  # messages waiting in the queue's retry tiers
    parked: int = 0  # dead messages waiting in `<queue>.parked` for the failed-job store
    oldest_wait_seconds: float | None = None
    paused: bool = False  # paused by `relay queue pause` (no worker takes its jobs)
    # A Laravel app's queue the bridge consumes, or the Relay-side queue its failed jobs
    # are retried through (`laravel.<queue>`).
    laravel: bool = False


async def queue_overview(source: QueueSource, *, estimate_waits: bool = False) -> list[QueueStats]:
    """Every work queue with its pause state, the Laravel ones marked (and those on a
    Laravel broker of their own added); with `estimate_waits`, the oldest job's wait
    estimated from the lifecycle records where RabbitMQ reports no head timestamp (quorum
    queues never do). httpx.HTTPError when the management API is out of reach."""
    prefix = source.settings.redis_key_prefix
    stats = mark_laravel(
        await queue_stats(source.settings), await laravel_queues(source.redis, prefix)
    )
    mark_paused(stats, await paused_queues(source.redis, prefix))
    if estimate_waits:
        lifecycle = LifecycleStore(source.redis, source.settings)
        waits = await lifecycle.oldest_waits({q.name: q.ready for q in stats})
        for q in stats:
            if q.oldest_wait_seconds is None:
                q.oldest_wait_seconds = round(waits.get(q.name, 0.0), 1)
    return stats


def mark_paused(stats: list[QueueStats], paused: Container[str]) -> list[QueueStats]:
    """Flag the paused queues among `stats` (the pause state lives in Redis)."""
    for q in stats:
        q.paused = q.name in paused
    return stats


def mark_laravel(stats: list[QueueStats], laravel: list[LaravelQueue]) -> list[QueueStats]:
    """Flag the Laravel queues the bridges report, and their retry queues; add those on a
    Laravel broker of their own (not in the management API's answer) with the depth the
    bridge last saw (no consumer counted once no bridge reports)."""
    by_name = {q.name: q for q in stats}
    for reported in laravel:
        if reported.retry_queue in by_name:
            by_name[reported.retry_queue].laravel = True
        if reported.on_relay_broker and reported.name in by_name:
            by_name[reported.name].laravel = True
            continue
        if reported.name in by_name:  # a Relay queue of the same name: keep both apart
            continue
        by_name[reported.name] = QueueStats(
            name=reported.name,
            ready=reported.ready,
            unacked=0,
            consumers=reported.consumers if reported.fresh else 0,
            publish_rate=0.0,
            deliver_rate=0.0,
            laravel=True,
        )
    return sorted(by_name.values(), key=lambda q: q.name)


def _rate(stats: dict[str, Any], key: str) -> float:
    return float(stats.get(f"{key}_details", {}).get("rate", 0.0))


async def queue_stats(
    settings: RuntimeSettings, client: httpx.AsyncClient | None = None
) -> list[QueueStats]:
    """Every work queue of our vhost, with its retry tiers folded into `delayed` and its
    parked queue into `parked`."""
    url = f"{settings.management_url}/api/queues/{quote(settings.vhost, safe='')}"
    owned = client is None
    client = client or httpx.AsyncClient(timeout=5)
    try:
        response = await client.get(url)
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()
    finally:
        if owned:
            await client.aclose()
    by_name: dict[str, QueueStats] = {}
    delayed: dict[str, int] = {}
    parked: dict[str, int] = {}
    for row in rows:
        name = row["name"]
        if name.startswith("amq.") or name in BROKER_OWN_QUEUES or row.get("exclusive"):
            continue
        if ".retry." in name:
            target = name.split(".retry.", 1)[0]
            delayed[target] = delayed.get(target, 0) + int(row.get("messages", 0))
            continue
        if name.endswith(PARKED_SUFFIX):
            parked[name.removesuffix(PARKED_SUFFIX)] = int(row.get("messages", 0))
            continue
        stats = row.get("message_stats", {})
        head = row.get("head_message_timestamp")
        by_name[name] = QueueStats(
            name=name,
            ready=int(row.get("messages_ready", 0)),
            unacked=int(row.get("messages_unacknowledged", 0)),
            consumers=int(row.get("consumers", 0)),
            publish_rate=_rate(stats, "publish"),
            deliver_rate=_rate(stats, "deliver_get"),
            oldest_wait_seconds=None if head is None else max(0.0, time.time() - float(head)),
        )
    for name, count in delayed.items():
        if name in by_name:
            by_name[name].delayed = count
    for name, count in parked.items():
        if name in by_name:
            by_name[name].parked = count
    return sorted(by_name.values(), key=lambda q: q.name)
