"""What the dashboard shows, gathered from RabbitMQ, Redis and Postgres."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from common.alerts import Alert, AlertMonitor
from common.control import AuditRecord, paused_queues
from common.dead_letters import FailedJob, drain_parked
from common.lifecycle import JobRecord, LifecycleStore, MinuteStats, MonitoredTag, WorkerStatus
from common.runtime import Runtime
from common.topology import Queue
from common.web import Section
from pydantic import BaseModel

from ..ops.queues import QueueStats, mark_paused, queue_stats

log = logging.getLogger(__name__)


async def queues_with_waits(runtime: Runtime) -> list[QueueStats]:
    """Queue stats, with the oldest job's wait estimated where RabbitMQ gives none, and
    whether each is paused."""
    stats = await queue_stats(runtime.settings)
    mark_paused(stats, await paused_queues(runtime.redis, runtime.settings.redis_key_prefix))
    lifecycle = LifecycleStore(runtime.redis, runtime.settings)
    waits = await lifecycle.oldest_waits({q.name: q.ready for q in stats})
    for q in stats:
        if q.oldest_wait_seconds is None:
            q.oldest_wait_seconds = round(waits.get(q.name, 0.0), 1)
    return stats


class Snapshot(BaseModel):
    queues: list[QueueStats] = []
    queues_error: str = ""
    workers: list[WorkerStatus] = []
    minutes: list[MinuteStats] = []
    recent: list[JobRecord] = []
    recent_count: int = 0  # in the recent list's window; silenced jobs are not
    monitored: list[MonitoredTag] = []
    failed: list[FailedJob] = []
    failed_total: int = 0
    # Each domain's dashboard panels, by name (templates dashboard/sections/<name>.html).
    panels: dict[str, Any] = {}
    alerts: list[Alert] = []
    audit: list[AuditRecord] = []


async def snapshot(runtime: Runtime, panels: Mapping[str, Section], query: str = "") -> Snapshot:
    """Everything on the page, fetched concurrently."""
    lifecycle = LifecycleStore(runtime.redis, runtime.settings)
    monitor = AlertMonitor(runtime.redis, runtime.settings)
    results = await asyncio.gather(
        queues_with_waits(runtime),
        lifecycle.workers(),
        lifecycle.minutes(60),
        lifecycle.recent(50, query),
        lifecycle.recent_count(),
        lifecycle.monitored(),
        runtime.failed_jobs.list(limit=50),
        runtime.failed_jobs.count(),
        monitor.recent(10),
        runtime.audit.recent(20),
        *(panel(runtime) for panel in panels.values()),
        return_exceptions=True,
    )
    snap = Snapshot()
    names = [
        "queues",
        "workers",
        "minutes",
        "recent",
        "recent_count",
        "monitored",
        "failed",
        "failed_total",
        "alerts",
        "audit",
        *panels,
    ]
    for name, value in zip(names, results, strict=True):
        if isinstance(value, BaseException):
            if name == "queues" and isinstance(value, httpx.HTTPError):
                snap.queues_error = f"RabbitMQ management API unreachable: {value}"
                continue
            log.warning("dashboard section failed", extra={"section": name, "error": repr(value)})
            if name == "queues":
                snap.queues_error = repr(value)
            continue
        if name in panels:
            snap.panels[name] = value
        else:
            setattr(snap, name, value)
    holding = [Queue(q.name, "") for q in snap.queues if q.parked]
    if holding:
        # Parked messages are listed with the failed jobs: move them in, then list again.
        await drain_parked(runtime.failed_jobs, runtime.publisher, holding)
        snap.failed = await runtime.failed_jobs.list(limit=50)
        snap.failed_total = await runtime.failed_jobs.count()
    return snap
