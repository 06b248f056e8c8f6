"""Alerts: a queue's oldest job waiting too long, or its failed jobs growing.

An alert is logged as a warning, listed on the dashboard and sent to the channels that
are set (common.alerts.channels: JSON webhook, Slack incoming webhook, e-mail). The
same alert (kind + queue) fires at most once per ALERT_COOLDOWN across every replica
that evaluates it: the first to `SET NX` the alert's Redis key with that expiry sends it.
"""

from __future__ import annotations

import json
import logging
import time

import httpx
from redis.asyncio import Redis

from ..settings import RuntimeSettings
from .channels import Alert as Alert
from .channels import deliver

log = logging.getLogger("relay.alerts")

_RECENT_KEPT = 50


class AlertMonitor:
    """Evaluates queue observations into alerts, deduplicated in Redis."""

    def __init__(
        self, redis: Redis, settings: RuntimeSettings, client: httpx.AsyncClient | None = None
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.client = client
        self.base = f"{settings.redis_key_prefix}ops:alert:"

    async def evaluate(
        self, waits: dict[str, float], failed_counts: dict[str, int], queues: list[str]
    ) -> list[Alert]:
        """Fire the alerts these observations call for; returns the ones sent now."""
        now = time.time()
        threshold = self.settings.alert_wait_seconds
        candidates = [
            Alert(
                kind="long_wait",
                queue=name,
                value=round(wait, 1),
                threshold=threshold,
                text=f"Relay: the oldest job in {name} has waited {wait:.0f}s "
                f"(threshold {threshold:g}s)",
                at=now,
            )
            for name, wait in sorted(waits.items())
            if wait > threshold
        ]
        candidates += await self._failed_growth(failed_counts, queues, now)
        return [alert for alert in candidates if await self._fire(alert)]

    async def _failed_growth(
        self, counts: dict[str, int], queues: list[str], now: float
    ) -> list[Alert]:
        """Compare with the counts seen last time (the first sight is the baseline)."""
        key = self.base + "failed-seen"
        names = sorted(set(queues) | set(counts))
        if not names:
            return []
        seen_raw = await self.redis.hmget(key, names)
        await self.redis.hset(key, mapping={name: counts.get(name, 0) for name in names})
        grown = []
        for name, seen in zip(names, seen_raw, strict=True):
            current = counts.get(name, 0)
            if seen is not None and current > int(seen):
                grown.append(
                    Alert(
                        kind="failed_growing",
                        queue=name,
                        value=current,
                        threshold=int(seen),
                        text=f"Relay: failed jobs of {name} grew from {int(seen)} to {current}",
                        at=now,
                    )
                )
        return grown

    async def _fire(self, alert: Alert) -> bool:
        cooldown = self.settings.alert_cooldown
        if cooldown > 0:
            claimed = await self.redis.set(
                f"{self.base}{alert.kind}:{alert.queue}",
                alert.at,
                nx=True,
                px=int(cooldown * 1000),
            )
            if not claimed:
                return False
        log.warning(alert.text, extra=alert.model_dump())
        recent = self.base + "recent"
        await self.redis.lpush(recent, alert.model_dump_json())
        await self.redis.ltrim(recent, 0, _RECENT_KEPT - 1)
        await deliver(alert, self.settings, self.client)
        return True

    async def recent(self, limit: int = 20) -> list[Alert]:
        """The latest alerts sent, newest first (for the dashboard)."""
        raws = await self.redis.lrange(self.base + "recent", 0, limit - 1)
        return [Alert.model_validate(json.loads(raw)) for raw in raws]
