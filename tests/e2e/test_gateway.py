"""The gateway's HTTP conventions, through the real process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support import ADMIN_KEY, OTHER_KEY, Stack

pytestmark = pytest.mark.e2e


async def _insert_failed_job(database_url: str, queue: str = "sms.send") -> uuid.UUID:
    failed_id = uuid.uuid4()
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            """
            INSERT INTO runtime.failed_jobs (id, queue, job_type, message_id, payload, headers, error, attempts)
            VALUES ($1, $2, 'SendSms', $3, '{"sms_id": "x"}', '{}', 'RuntimeError: boom', 3)
            """,
            failed_id,
            queue,
            str(uuid.uuid4()),
        )
    finally:
        await connection.close()
    return failed_id


def test_health_and_readiness(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    release = (Path(__file__).resolve().parents[2] / "VERSION").read_text().strip()
    with stack.client(None) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "version": release}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["down"] == []
        assert client.get("/docs").status_code == 200
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert f'relay_build_info{{version="{release}"}} 1.0' in metrics.text


def test_missing_or_unknown_key_is_401_and_non_admin_on_ops_is_403(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with stack.client(None) as anonymous:
        assert anonymous.get("/v1/ops/failed").status_code == 401
    with stack.client("no-such-key") as unknown:
        assert unknown.get("/v1/ops/failed").status_code == 401
    with stack.client(OTHER_KEY) as user:
        assert user.get("/v1/ops/failed").status_code == 403
        assert user.get("/v1/ops/queues").status_code == 403
    with stack.client(ADMIN_KEY) as admin:
        assert admin.get("/v1/ops/failed").status_code == 200


def test_invalid_input_is_422_naming_the_field(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with stack.client(ADMIN_KEY) as admin:
        answer = admin.get("/v1/ops/failed", params={"limit": 0})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "limit"
        assert "limit" in answer.json()["detail"]
        assert admin.post("/v1/ops/failed/not-a-uuid/retry").status_code == 422


def test_over_the_api_limit_is_429_with_retry_after(stack: Stack) -> None:
    stack.start("gateway", API_RATE_PER_MINUTE=3)
    stack.wait_ready()
    with stack.client(ADMIN_KEY) as admin:
        answers = [admin.get("/v1/ops/failed").status_code for _ in range(3)]
        assert answers == [200, 200, 200]
        limited = admin.get("/v1/ops/failed")
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1


def test_broker_unreachable_is_503_with_retry_after_within_5s(
    stack: Stack, env: dict[str, Any]
) -> None:
    stack.start("gateway", RABBITMQ_URL="amqp://guest:guest@127.0.0.1:1/")
    with stack.client(None) as client:
        _wait_http(client)
        readiness = client.get("/readyz")
        assert readiness.status_code == 503 and readiness.json()["down"] == ["rabbitmq"]
    failed_id = asyncio.run(_insert_failed_job(env["DATABASE_URL"]))
    with stack.client(ADMIN_KEY) as admin:
        started = time.monotonic()
        answer = admin.post(f"/v1/ops/failed/{failed_id}/retry")
        assert answer.status_code == 503
        assert time.monotonic() - started < 5
        assert answer.headers["Retry-After"] == "5"
        assert admin.get(f"/v1/ops/failed/{failed_id}").status_code == 200, "job must not be lost"


def test_same_idempotency_key_returns_the_first_answer(stack: Stack, env: dict[str, Any]) -> None:
    stack.start("gateway")
    stack.wait_ready()
    asyncio.run(_insert_failed_job(env["DATABASE_URL"]))
    with stack.client(ADMIN_KEY, **{"Idempotency-Key": "retry-all-1"}) as admin:
        first = admin.post("/v1/ops/failed/retry")
        again = admin.post("/v1/ops/failed/retry")
        assert first.status_code == 202 and first.json() == {"retried": 1}
        assert again.status_code == 202 and again.json() == {"retried": 1}
        assert again.headers["Idempotent-Replayed"] == "true"
        other_body = admin.post("/v1/ops/failed/retry", params={"queue": "sms.bulk"})
        assert other_body.status_code == 422
    with stack.client(ADMIN_KEY, **{"Idempotency-Key": "retry-all-2"}) as admin:
        assert admin.post("/v1/ops/failed/retry").json() == {"retried": 0}


def test_failed_runbook_over_http(stack: Stack, env: dict[str, Any]) -> None:
    stack.start("gateway")
    stack.wait_ready()
    ids = [
        asyncio.run(_insert_failed_job(env["DATABASE_URL"], q))
        for q in ("sms.send", "sms.bulk", "sms.bulk")
    ]
    with stack.client(ADMIN_KEY) as admin:
        listed = admin.get("/v1/ops/failed").json()
        assert {row["id"] for row in listed} == {str(i) for i in ids}
        assert set(listed[0]) >= {
            "id",
            "queue",
            "type",
            "error",
            "attempts",
            "failed_at",
            "payload",
        }
        assert len(admin.get("/v1/ops/failed", params={"queue": "sms.bulk"}).json()) == 2
        assert admin.delete(f"/v1/ops/failed/{ids[0]}").status_code == 204
        assert admin.delete(f"/v1/ops/failed/{ids[0]}").status_code == 404
        assert admin.post(f"/v1/ops/failed/{ids[1]}/retry").status_code == 202
        assert admin.delete("/v1/ops/failed").json() == {"flushed": 1}
        queues = admin.get("/v1/ops/queues").json()["queues"]
        bulk = next(q for q in queues if q["name"] == "sms.bulk")
        assert set(bulk) >= {"ready", "unacked", "consumers", "publish_rate", "deliver_rate"}


def test_cli_runbook_and_key_creation(stack: Stack, env: dict[str, Any]) -> None:
    cli_env = {**os.environ, **{k: str(v) for k, v in env.items()}}
    relay = [sys.executable, "-m", "gateway.cli"]
    created = subprocess.run(
        [*relay, "keys", "create", "--user", "cli-user"],
        env=cli_env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().split()[-1]
    failed_id = asyncio.run(_insert_failed_job(env["DATABASE_URL"]))
    listed = subprocess.run(
        [*relay, "failed", "list", "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert [row["id"] for row in json.loads(listed.stdout)] == [str(failed_id)]
    retried = subprocess.run(
        [*relay, "failed", "retry", "--all"],
        env=cli_env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "1 failed job(s)" in retried.stdout
    missing = subprocess.run(
        [*relay, "failed", "forget", str(uuid.uuid4())], env=cli_env, capture_output=True, text=True
    )
    assert missing.returncode == 1
    queues = subprocess.run(
        [*relay, "queues"], env=cli_env, capture_output=True, text=True, check=True
    )
    assert "sms.send" in queues.stdout
    stack.start("gateway")
    stack.wait_ready()
    with stack.client(key) as client:
        assert client.get("/v1/ops/failed").status_code == 403  # a valid, non-admin key


def _wait_http(client: Any) -> None:
    from tests.support import eventually

    def up() -> bool:
        try:
            return client.get("/healthz").status_code == 200
        except Exception:
            return False

    eventually(up, timeout=60, interval=0.2)
