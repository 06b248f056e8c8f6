"""What the dashboard shows, gathered from RabbitMQ, Redis and Postgres."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from common.alerts import Alert, AlertMonitor
from common.control import AuditRecord
from common.dead_letters import FailedJob
from common.lifecycle import JobRecord, LifecycleStore, MinuteStats, MonitoredTag, WorkerStatus
from common.runtime import Runtime
from common.web import Section
from pydantic import BaseModel

from ..admin.failed_jobs import unpark
from ..admin.queue_stats import QueueStats, queue_overview

log = logging.getLogger(__name__)


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
        queue_overview(runtime, estimate_waits=True),
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
    # Parked messages are listed with the failed jobs: move them in, then list again.
    if await unpark(runtime, known=snap.queues):
        snap.failed = await runtime.failed_jobs.list(limit=50)
        snap.failed_total = await runtime.failed_jobs.count()
    return snap
