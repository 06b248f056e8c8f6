"""Monitored tags (Horizon's monitoring): pin a tag so its jobs are kept
LIFECYCLE_MONITORED_SECONDS and counted, or unpin it. `/v1/ops/tags` and the dashboard's
monitoring forms both call these functions."""

from __future__ import annotations

from common.lifecycle import LifecycleStore, MonitoredTag
from common.runtime import Runtime

from .actor import Actor, record

MONITOR = "tag.monitor"
STOP_MONITORING = "tag.stop_monitoring"


async def monitor(runtime: Runtime, actor: Actor, tag: str) -> MonitoredTag:
    """Pin `tag` (already validated as `name:value`)."""
    await LifecycleStore(runtime.redis, runtime.settings).monitor(tag)
    await record(runtime.audit, actor, MONITOR, tag)
    return MonitoredTag(tag=tag)


async def stop_monitoring(runtime: Runtime, actor: Actor, tag: str) -> bool:
    """Unpin `tag`; False (and nothing recorded) when it was not monitored."""
    if not await LifecycleStore(runtime.redis, runtime.settings).stop_monitoring(tag):
        return False
    await record(runtime.audit, actor, STOP_MONITORING, tag)
    return True
