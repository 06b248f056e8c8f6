"""Alerts: a long wait fires once to the webhook, not again within the cooldown."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.ops_support import DEMO, Demo
from tests.fakes.ops_webhook import WebhookReceiver
from tests.support import eventually, eventually_async
from tests.support.stack import free_port

ALERTING = {"ALERT_WAIT_SECONDS": "2", "ALERT_COOLDOWN": "300", "ALERT_CHECK_INTERVAL": "0.3"}


async def test_long_wait_alert_fires_once_across_replicas_and_not_again_within_cooldown(
    stack: Any, runtime_factory: Any
) -> None:
    with WebhookReceiver() as hook:
        # Two gateway replicas evaluate the same queues; the Redis key lets one send.
        stack.start("gateway", ALERT_WEBHOOK_URL=hook.url, **ALERTING)
        stack.start(
            "gateway",
            replica=2,
            GATEWAY_PORT=str(free_port()),
            ALERT_WEBHOOK_URL=hook.url,
            **ALERTING,
        )
        stack.wait_ready()
        runtime = await runtime_factory([DEMO])
        await runtime.publisher.publish(DEMO, Demo(n=1))  # nobody consumes ops.demo

        eventually(lambda: [a for a in hook.received if a["queue"] == DEMO.name], timeout=30)
        [alert] = [a for a in hook.received if a["queue"] == DEMO.name]
        assert alert["kind"] == "long_wait" and alert["threshold"] == 2
        assert alert["value"] > 2 and "ops.demo" in alert["text"]

        # The job keeps waiting through many more checks of both replicas.
        await asyncio.sleep(4)  # ~25 more checks by the two replicas
        assert [a for a in hook.received if a["queue"] == DEMO.name] == [alert]
        assert "the oldest job in ops.demo has waited" in stack.tail("gateway", 400) + stack.tail(
            "gateway.2", 400
        )


async def test_growing_failed_jobs_alert_once(stack: Any, runtime_factory: Any) -> None:
    from tests.e2e.ops_support import broken_flag, start_demo_worker

    with WebhookReceiver() as hook:
        stack.start("gateway", ALERT_WEBHOOK_URL=hook.url, **ALERTING)
        stack.wait_ready()
        start_demo_worker(stack)
        stack.wait_consuming(DEMO.name)
        runtime = await runtime_factory([DEMO])
        await runtime.redis.set(broken_flag(runtime.settings), "1")
        seen = f"{runtime.settings.redis_key_prefix}ops:alert:failed-seen"
        # The watch has taken its baseline (zero failed jobs) before any job fails.
        await eventually_async(lambda: runtime.redis.hget(seen, DEMO.name), timeout=30)
        for n in range(3):
            await runtime.publisher.publish(DEMO, Demo(n=n, fail=True))
        eventually(lambda: [a for a in hook.received if a["kind"] == "failed_growing"], timeout=30)
        await asyncio.sleep(2)  # more checks run; none may send it again
        grown = [a for a in hook.received if a["kind"] == "failed_growing"]
        assert len(grown) == 1 and grown[0]["queue"] == DEMO.name
        assert "failed jobs of ops.demo grew" in grown[0]["text"]
