"""A worker's health endpoint (its metrics port) opens once it consumes: a deploy waiting for
the new replica to be healthy waits until it takes jobs."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support import eventually
from tests.support.proxy import proxied
from tests.support.stack import free_port


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_metrics_port_opens_only_once_the_worker_consumes(stack: Any) -> None:
    port = free_port()
    with proxied(stack.env["RABBITMQ_URL"], 5672) as broker:
        broker.cut()
        stack.start("payments", RABBITMQ_URL=broker.url(stack.env["RABBITMQ_URL"]),
                    METRICS_PORT=port)  # fmt: skip
        # Migrated and connected to Postgres and Redis, waiting for RabbitMQ: not healthy.
        eventually(lambda: "waiting for rabbitmq" in stack.tail("payments"), timeout=60)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            assert not _answers(port)
            time.sleep(0.2)
        broker.restore()
        # A fresh vhost: the first process there creates every quorum queue (seconds).
        stack.wait_consuming("payments.stripe", timeout=180)
        eventually(lambda: _answers(port), timeout=30, interval=0.2)
