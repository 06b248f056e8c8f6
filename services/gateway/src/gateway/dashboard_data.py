"""What the dashboard shows, gathered from RabbitMQ, Redis and Postgres."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from common.alerts import Alert, AlertMonitor
from common.failed_jobs import FailedJob
from common.lifecycle import JobRecord, LifecycleStore, MinuteStats, WorkerStatus
from common.runtime import Runtime
from pydantic import BaseModel

from .queues import QueueStats, queue_stats

log = logging.getLogger(__name__)


class Campaigns(BaseModel):
    available: bool
    note: str = ""
    rows: list[dict[str, Any]] = []


async def queues_with_waits(runtime: Runtime) -> list[QueueStats]:
    """Queue stats, with the oldest job's wait estimated where RabbitMQ gives none."""
    stats = await queue_stats(runtime.settings)
    lifecycle = LifecycleStore(runtime.redis, runtime.settings)
    waits = await lifecycle.oldest_waits({q.name: q.ready for q in stats})
    for q in stats:
        if q.oldest_wait_seconds is None:
            q.oldest_wait_seconds = round(waits.get(q.name, 0.0), 1)
    return stats


async def campaigns(runtime: Runtime) -> Campaigns:
    """Progress of the latest campaigns, counted from the sms schema's per-recipient rows.

    Same rules as GET /v1/campaigns/{id}: sent includes delivered, and
    total = sent + failed + skipped + pending in one snapshot.
    """
    async with runtime.pool.acquire() as connection:
        table = await connection.fetchval("SELECT to_regclass('sms.campaigns')::text")
        if table is None:
            return Campaigns(available=False, note="the sms schema is not migrated yet")
        rows = await connection.fetch(
            """
            SELECT c.id, c.name, c.user_id, c.total, c.released_chunks, c.created_at,
                count(m.id) FILTER (WHERE m.status IN ('sent', 'delivered')) AS sent,
                count(m.id) FILTER (WHERE m.status = 'failed') AS failed,
                count(m.id) FILTER (WHERE m.status = 'skipped') AS skipped
            FROM (SELECT * FROM sms.campaigns ORDER BY created_at DESC LIMIT 10) c
            LEFT JOIN sms.messages m ON m.campaign_id = c.id
            GROUP BY c.id, c.name, c.user_id, c.total, c.released_chunks, c.created_at
            ORDER BY c.created_at DESC
            """
        )
    result = []
    for row in rows:
        item = dict(row)
        finished = item["sent"] + item["failed"] + item["skipped"]
        item["pending"] = max(0, item["total"] - finished)
        item["percent"] = round(100 * finished / item["total"]) if item["total"] else 100
        item["status"] = (
            "completed"
            if item["pending"] == 0
            else "sending"
            if item["released_chunks"]
            else "queued"
        )
        result.append(item)
    return Campaigns(available=True, rows=result)


async def breakers(runtime: Runtime) -> Any:
    """The circuit-breaker section the sms service registers for /v1/ops/queues."""
    from .routes.ops import QUEUE_SECTIONS

    section = QUEUE_SECTIONS.get("breakers")
    return None if section is None else await section(runtime)


class Snapshot(BaseModel):
    queues: list[QueueStats] = []
    queues_error: str = ""
    workers: list[WorkerStatus] = []
    minutes: list[MinuteStats] = []
    recent: list[JobRecord] = []
    failed: list[FailedJob] = []
    failed_total: int = 0
    campaigns: Campaigns = Campaigns(available=False)
    breakers: Any = None
    alerts: list[Alert] = []


async def snapshot(runtime: Runtime, query: str = "") -> Snapshot:
    """Everything on the page, fetched concurrently."""
    lifecycle = LifecycleStore(runtime.redis, runtime.settings)
    monitor = AlertMonitor(runtime.redis, runtime.settings)
    results = await asyncio.gather(
        queues_with_waits(runtime),
        lifecycle.workers(),
        lifecycle.minutes(60),
        lifecycle.recent(50, query),
        runtime.failed_jobs.list(limit=50),
        runtime.failed_jobs.count(),
        campaigns(runtime),
        breakers(runtime),
        monitor.recent(10),
        return_exceptions=True,
    )
    snap = Snapshot()
    names = [
        "queues",
        "workers",
        "minutes",
        "recent",
        "failed",
        "failed_total",
        "campaigns",
        "breakers",
        "alerts",
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
        setattr(snap, name, value)
    return snap
