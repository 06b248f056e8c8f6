"""GET /metrics in Prometheus text on a worker and on the gateway, counters moving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis

from tests.e2e.ops_support import DEMO, Demo, broken_flag, sample, scrape, start_demo_worker
from tests.support import USER_KEY, eventually
from tests.support.stack import free_port

RELEASE = (Path(__file__).resolve().parents[2] / "VERSION").read_text().strip()


async def test_worker_and_gateway_metrics_parse_and_count_the_jobs_that_ran(
    stack: Any, runtime_factory: Any, env: dict[str, Any]
) -> None:
    port = free_port()
    start_demo_worker(stack, METRICS_PORT=str(port))
    stack.start("gateway")
    stack.wait_ready()
    stack.wait_consuming(DEMO.name)
    worker_metrics = f"http://127.0.0.1:{port}/metrics"
    before = eventually(lambda: scrape(worker_metrics), timeout=30)
    processed = "relay_jobs_processed_total"

    runtime = await runtime_factory([DEMO])
    redis.Redis.from_url(env["REDIS_URL"]).set(broken_flag(runtime.settings), "1")
    for n in range(5):
        await runtime.publisher.publish(DEMO, Demo(n=n))
    await runtime.publisher.publish(DEMO, Demo(n=5, fail=True))

    def counted() -> dict[Any, float]:
        now = scrape(worker_metrics)
        done = sample(now, processed, queue=DEMO.name, outcome="done")
        failed = sample(now, processed, queue=DEMO.name, outcome="failed")
        assert (done, failed) == (
            sample(before, processed, queue=DEMO.name, outcome="done") + 5,
            sample(before, processed, queue=DEMO.name, outcome="failed") + 1,
        )
        return now

    after = eventually(counted, timeout=30)
    assert sample(after, "relay_job_runtime_seconds_count", queue=DEMO.name) >= 6
    assert sample(after, "relay_job_wait_seconds_count", queue=DEMO.name) >= 6
    assert (("relay_jobs_in_flight", (("queue", DEMO.name),))) in after
    assert sample(after, "relay_worker_concurrency", queue=DEMO.name) >= 2
    assert sample(after, "relay_build_info", version=RELEASE) == 1

    gateway_metrics = f"{stack.url}/metrics"
    labels = {"method": "GET", "route": "/v1/sms/{sms_id}", "status": "404"}
    first = sample(scrape(gateway_metrics), "relay_http_requests_total", **labels)
    with stack.client(USER_KEY) as client:
        for _ in range(3):
            assert client.get("/v1/sms/00000000-0000-0000-0000-000000000000").status_code == 404
    gateway = scrape(gateway_metrics)
    assert sample(gateway, "relay_http_requests_total", **labels) == first + 3
    duration = ("method", "GET"), ("route", "/v1/sms/{sms_id}")
    assert gateway[("relay_http_request_duration_seconds_count", duration)] >= 3
