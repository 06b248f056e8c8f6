"""Sentry: a dead job is reported to a (fake, local) DSN, tagged, with personal data scrubbed."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.e2e.ops_support import DEMO, Demo, broken_flag, start_demo_worker
from tests.fakes.ops_sentry import FakeSentry
from tests.support import eventually, eventually_async
from tests.support.stack import ROOT

PHONE = "+24177123456"
KEY = "rk_live0123456789abcdef"


async def test_dead_job_reaches_sentry_tagged_and_scrubbed(
    stack: Any, runtime_factory: Any
) -> None:
    with FakeSentry() as sentry:
        start_demo_worker(stack, SENTRY_DSN=sentry.dsn, OTEL_TRACES_EXPORTER="memory")
        stack.wait_consuming(DEMO.name)
        runtime = await runtime_factory([DEMO])
        await runtime.redis.set(broken_flag(runtime.settings), "1")
        message_id = await runtime.publisher.publish(
            DEMO, Demo(n=3, fail=True, note=f" for {PHONE} (key {KEY})")
        )
        await eventually_async(runtime.failed_jobs.list, timeout=30)

        def reported() -> dict[str, Any]:
            found = [e for e in sentry.events if e.get("tags", {}).get("queue") == DEMO.name]
            assert found, f"no event for the dead job yet ({len(sentry.events)} events)"
            return found[0]

        event = eventually(reported, timeout=30)
    tags = event["tags"]
    assert tags["job_type"] == "Demo" and tags["message_id"] == message_id
    assert tags["attempt"] == "1" and tags["service"] == "opsdemo"
    assert len(tags["trace_id"]) == 32
    [exception] = event["exception"]["values"]
    assert exception["type"] == "Permanent"
    assert "rejected by the provider" in exception["value"]
    body = b"".join(sentry.raw).decode()
    assert PHONE not in body and PHONE[-2:] in exception["value"]
    assert KEY not in body and "rk_[scrubbed]" in exception["value"]


def test_without_sentry_dsn_sentry_is_not_even_imported() -> None:
    probe = (
        "import sys; from gateway.app import create_app; from common.runtime import Runtime; "
        "create_app(); print('sentry_sdk' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SENTRY_DSN": ""},
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "False"


# A gateway with one extra route that fails the way a bug would: the app as served, its
# Sentry set-up included, in a process of its own (sentry-sdk is global to a process).
_FAILING_GATEWAY = f"""
import sentry_sdk
from fastapi.testclient import TestClient
from gateway.app import create_app

app = create_app()

@app.get("/v1/boom")
async def boom() -> None:
    raise RuntimeError("bug while texting {PHONE} with key {KEY}")

with TestClient(app, raise_server_exceptions=False) as client:
    print(client.get("/v1/boom").status_code)
sentry_sdk.flush(timeout=10)
"""


def test_an_unhandled_gateway_error_reaches_sentry_tagged_and_scrubbed(env: dict[str, Any]) -> None:
    with FakeSentry() as sentry:
        shown = subprocess.run(
            [sys.executable, "-c", _FAILING_GATEWAY],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={**os.environ, **{k: str(v) for k, v in env.items()}, "SENTRY_DSN": sentry.dsn},
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.strip().splitlines()[-1] == "500"
        [event] = [e for e in sentry.events if e.get("exception")]
    assert event["tags"]["service"] == "gateway"
    assert event["transaction"] == "/v1/boom"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError" and "bug while texting" in exception["value"]
    body = b"".join(sentry.raw).decode()
    assert PHONE not in body and PHONE[-2:] in exception["value"]
    assert KEY not in body and "rk_[scrubbed]" in exception["value"]
