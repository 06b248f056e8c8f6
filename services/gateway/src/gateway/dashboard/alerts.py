"""The gateway's alert watch: every ALERT_CHECK_INTERVAL, queue waits and failed counts.

Every gateway replica runs it; the alert's Redis key makes one of them send each alert.
"""

from __future__ import annotations

import asyncio
import logging

from common.alerts import AlertMonitor
from common.runtime import Runtime
from fastapi import FastAPI

from ..admin.queue_stats import queue_overview

log = logging.getLogger(__name__)


async def check_once(runtime: Runtime, monitor: AlertMonitor) -> int:
    """One evaluation; returns how many alerts were sent."""
    stats = await queue_overview(runtime, estimate_waits=True)
    # A paused queue's jobs wait on purpose: no long-wait alert for it.
    waits = {q.name: q.oldest_wait_seconds or 0.0 for q in stats if not q.paused}
    failed = await runtime.failed_jobs.counts()
    fired = await monitor.evaluate(waits, failed, [q.name for q in stats])
    return len(fired)


async def watch_alerts(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    monitor = AlertMonitor(runtime.redis, runtime.settings)
    while True:
        try:
            await check_once(runtime, monitor)
        except Exception as error:
            # The management API, Redis or Postgres may be down; /readyz says which.
            log.warning("alert check skipped", extra={"error": repr(error)})
        await asyncio.sleep(runtime.settings.alert_check_interval)
