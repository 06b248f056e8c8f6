"""The observability profile: Prometheus scrapes the gateway and every worker replica.

Grafana and Jaeger stay on their official images and are validated by configuration
only (tests/integration/test_compose.py); Prometheus runs here for real.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import eventually
from tests.support.compose import ComposeStack

SCRAPED = ("gateway", "sms", "payments", "tournaments", "scheduler", "notifications", "rabbitmq")


def test_prometheus_scrapes_the_gateway_and_every_worker(compose: ComposeStack) -> None:
    compose.up("prometheus", extra=("--no-deps",))
    query = f"{compose.url('PROMETHEUS_HOST_PORT')}/api/v1/query"
    sms_replicas = len(compose.container_ids("sms"))

    def every_target_up() -> dict[str, int]:
        try:
            answer = httpx.get(query, params={"query": "up == 1"}, timeout=10)
        except httpx.TransportError as error:  # its port is published before it listens
            raise AssertionError(f"prometheus not answering yet: {error!r}") from error
        assert answer.status_code == 200, answer.text
        results: list[dict[str, Any]] = answer.json()["data"]["result"]
        up: dict[str, int] = {}
        for series in results:
            job = series["metric"]["job"]
            up[job] = up.get(job, 0) + 1
        missing = [job for job in SCRAPED if not up.get(job)]
        assert not missing, f"not scraped yet: {missing} (up: {up})"
        assert up["sms"] == sms_replicas, up
        return up

    eventually(every_target_up, timeout=120, interval=2)

    answer = httpx.get(query, params={"query": "sum(relay_jobs_processed_total)"}, timeout=10)
    assert float(answer.json()["data"]["result"][0]["value"][1]) > 0
