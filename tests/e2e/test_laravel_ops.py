"""The Laravel bridge seen by operators: its queues in GET /v1/ops/queues and `relay queues`
(marked Laravel), relay_laravel_jobs_total on /metrics, one trace from the bridge's span to
the sms worker's, `relay queue pause` on a Laravel queue, and an idle bridge that says so."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_ops_tracing import spans_in
from tests.fakes.laravel_support import (
    SMS_JOB,
    dispatch,
    fresh_logs,
    publish_raw,
    queue_depth,
    start_bridge,
)
from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import start_sms, wait_for_status
from tests.support import ADMIN_KEY, Stack, eventually
from tests.support.laravel import require_php
from tests.support.stack import ROOT, free_port

pytestmark = pytest.mark.e2e

KEYS = {"API_KEYS": "user-key=1,other-key=user-2"}
CONSOLE = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "200"}


@pytest.fixture(autouse=True)
def _php(stack: Stack) -> None:
    require_php()
    fresh_logs(stack)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def _metric(text: str, job_class: str, outcome: str) -> float:
    name = json.dumps(job_class)[1:-1]  # Prometheus escapes backslashes as JSON does
    line = f'relay_laravel_jobs_total{{class="{name}",outcome="{outcome}"}} '
    found = [row for row in text.splitlines() if row.startswith(line)]
    return float(found[0].split()[-1]) if found else 0.0


def test_queues_counts_and_one_trace_are_visible_where_operators_look(
    stack: Stack, fake: FakeProvider
) -> None:
    settings = start_sms(stack, fake, **KEYS, **CONSOLE)
    metrics_port = free_port()
    start_bridge(stack, "sms", METRICS_PORT=metrics_port, **settings)
    [job, other] = dispatch(
        stack, "sms", [{"class": SMS_JOB, "args": [1, "+24177750737", f"n°{n}"]} for n in (1, 2)]
    )
    publish_raw(stack, "sms", [b"not json"])
    with stack.client() as client:
        wait_for_status(client, job.uuid or "", "sent")
        wait_for_status(client, other.uuid or "", "sent")

    with stack.client(ADMIN_KEY) as admin:

        def listed() -> dict[str, dict[str, Any]]:
            queues = {q["name"]: q for q in admin.get("/v1/ops/queues").json()["queues"]}
            assert queues.get("sms", {}).get("laravel") is True, queues.get("sms")
            return queues

        queues = eventually(listed, timeout=30, interval=1)
        assert queues["laravel.sms"]["laravel"] is True
        assert queues["sms.send"]["laravel"] is False

        def counted() -> str:
            text = admin.get("/metrics").text
            assert _metric(text, SMS_JOB, "accepted") == 2, text[-2000:]
            return text

        gateway_metrics = eventually(counted, timeout=30, interval=0.5)
        assert _metric(gateway_metrics, "unreadable", "failed") == 1
    with httpx.Client(base_url=stack.url, timeout=15) as anonymous:
        login = anonymous.post("/dashboard/login", data={"key": ADMIN_KEY})
    with httpx.Client(base_url=stack.url, timeout=15, cookies=login.cookies) as browser:
        rows = browser.get("/dashboard/sections").json()["queues"].split("<tr ")
    [sms_row] = [row for row in rows if row.startswith('data-queue="sms"')]
    [send_row] = [row for row in rows if row.startswith('data-queue="sms.send"')]
    assert "badge laravel" in sms_row and "badge laravel" not in send_row
    # The Laravel app's queue is its own to clear (php artisan queue:clear).
    assert "/clear" not in sms_row and "/clear" in send_row
    own = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    assert _metric(own.decode(), SMS_JOB, "accepted") == 2

    shown = subprocess.run(
        [str(ROOT / ".venv/bin/relay"), "queues"],
        env={**stack.env, "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert shown.returncode == 0, shown.stderr
    assert any("sms (Laravel)" in row for row in shown.stdout.splitlines()), shown.stdout

    def one_trace() -> tuple[dict[str, Any], dict[str, Any]]:
        def of(label: str, name: str) -> dict[str, Any]:
            [span] = [
                s
                for s in spans_in(stack.tail(label, 100_000))
                if s["name"] == name and s["attributes"].get("messaging.message.id") == job.uuid
            ]
            return span

        return of("bridge", "consume laravel.sms"), of("sms.1", "consume sms.send")

    bridge_span, worker_span = eventually(one_trace, timeout=30, interval=0.5)
    assert worker_span["context"]["trace_id"] == bridge_span["context"]["trace_id"]
    assert worker_span["parent_id"] == bridge_span["context"]["span_id"]


def test_relay_queue_pause_stops_every_bridge_taking_a_laravel_queue(
    stack: Stack, fake: FakeProvider
) -> None:
    settings = start_sms(stack, fake, **KEYS)
    start_bridge(stack, "sms", **settings)
    with stack.client(ADMIN_KEY) as admin:
        assert admin.post("/v1/ops/queues/sms/pause").status_code == 200
        eventually(lambda: queue_depth(stack, "sms")[1] == 0, timeout=30)
        [job] = dispatch(stack, "sms", [{"class": SMS_JOB, "args": [1, "+24177750737", "later"]}])
        assert queue_depth(stack, "sms")[0] == 1  # waits on the Laravel queue
        assert fake.deliveries == {}
        assert admin.post("/v1/ops/queues/sms/continue").status_code == 200
    with stack.client() as client:
        wait_for_status(client, job.uuid or "", "sent")


def test_a_bridge_without_laravel_queues_idles_and_says_so(stack: Stack) -> None:
    stack.start("bridge", LARAVEL_QUEUES="")

    def said() -> bool:
        return "LARAVEL_QUEUES is empty: the bridge idles" in stack.tail("bridge")

    eventually(said, timeout=60, interval=0.5)
    assert stack.processes["bridge"].poll() is None  # still running
    assert stack.terminate("bridge") == 0
