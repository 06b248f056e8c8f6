"""The ops queue list (and so the dashboard's) shows our queues, not RabbitMQ's own."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from common.topology import Queue
from gateway.admin.queue_stats import queue_stats

QUEUE = Queue("test.listed", "test")


async def test_queue_list_hides_the_brokers_aliveness_test_queue(runtime_factory: Any) -> None:
    runtime = await runtime_factory([QUEUE])
    settings = runtime.settings
    vhost = quote(settings.vhost, safe="")
    async with httpx.AsyncClient(timeout=30) as client:
        # What a monitoring probe does; RabbitMQ declares `aliveness-test` in the vhost.
        probe = await client.get(f"{settings.management_url}/api/aliveness-test/{vhost}")
        assert probe.json() == {"status": "ok"}
        declared = await client.get(f"{settings.management_url}/api/queues/{vhost}")
        assert "aliveness-test" in {row["name"] for row in declared.json()}

        names = [q.name for q in await queue_stats(settings, client)]

    assert QUEUE.name in names
    assert "aliveness-test" not in names
