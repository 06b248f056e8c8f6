"""Retention: every kind of record older than its RETENTION_* setting goes, newer ones stay.

Old records are written as their owners write them, dated back with SQL or with old
Redis scores; `prune` runs with a tiny batch so that several batches are needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, get_args

import pytest
from common.lifecycle import Keys
from common.retention import Kind, RetentionSettings, prune
from common.runtime import Runtime
from common.settings import RuntimeSettings

RELAY = str(Path(sys.executable).parent / "relay")
DAY = 86_400


@pytest.fixture
async def runtime(env: dict[str, Any]) -> AsyncIterator[Runtime]:
    settings = RuntimeSettings(**{key.lower(): value for key, value in env.items()})
    started = await Runtime.start(settings, "test", queues=(), wait_for_broker=False)
    yield started
    await started.close()


async def _write_old_and_new(runtime: Runtime, age_days: float) -> None:
    """Two records of every kind: one `age_days` old, one new."""
    ago = f"now() - interval '{age_days} days'"
    pool = runtime.pool
    for when in (ago, "now()"):
        await pool.execute(
            f"INSERT INTO runtime.processed_messages (queue, message_id, processed_at)"
            f" VALUES ('q', $1, {when})",
            str(uuid.uuid4()),
        )
        await pool.execute(
            f"""
            INSERT INTO runtime.failed_jobs
                (id, queue, job_type, message_id, payload, error, attempts, failed_at)
            VALUES ($1, 'q', 'T', 'm', '{{}}', 'boom', 1, {when})
            """,
            uuid.uuid4(),
        )
        await pool.execute(
            f"INSERT INTO runtime.audit_log (actor, action, target, origin, at)"
            f" VALUES ('admin', 'failed.flush', '*', '127.0.0.1', {when})"
        )
        await pool.execute(
            f"INSERT INTO sms.attempts (sms_id, attempt, provider, outcome, duration_ms,"
            f" attempted_at) VALUES ($1, 1, 'log', 'sent', 1, {when})",
            uuid.uuid4(),
        )
        await pool.execute(
            f"INSERT INTO sms.receipts (user_id, provider_id, status, applied, matched,"
            f" received_at) VALUES ('u', 'p', 'delivered', false, false, {when})"
        )
        await pool.execute(
            f"""
            INSERT INTO notifications.notifications
                (id, user_id, seq, title, message, type, priority, created_at)
            VALUES ($1, 'u', (SELECT coalesce(max(seq), 0) + 1 FROM notifications.notifications),
                    't', 'm', 'info', 'normal', {when})
            """,
            uuid.uuid4(),
        )
    prefix = runtime.settings.redis_key_prefix
    keys = Keys(prefix)
    now = time.time()
    for label, at in (("old", now - age_days * DAY), ("new", now)):
        record = {"id": label, "at": at}
        await runtime.redis.set(keys.job(label), json.dumps(record))
        await runtime.redis.zadd(keys.recent, {label: at})
        await runtime.redis.zadd(keys.tag("type:T"), {label: at})
        answer = {"state": "done", "stored_at": at, "fingerprint": "f", "status": 202}
        await runtime.redis.set(f"{prefix}idem:caller:{label}", json.dumps(answer))


async def _counts(runtime: Runtime) -> dict[str, int]:
    counts = {}
    for table in (
        "runtime.processed_messages",
        "runtime.failed_jobs",
        "runtime.audit_log",
        "sms.attempts",
        "sms.receipts",
        "notifications.notifications",
    ):
        counts[table] = int(await runtime.pool.fetchval(f"SELECT count(*) FROM {table}"))
    keys = Keys(runtime.settings.redis_key_prefix)
    counts["dashboard"] = int(await runtime.redis.zcard(keys.recent))
    counts["dashboard tag"] = int(await runtime.redis.zcard(keys.tag("type:T")))
    counts["job records"] = int(await runtime.redis.exists(keys.job("old"), keys.job("new")))
    prefix = runtime.settings.redis_key_prefix
    counts["idempotency"] = int(
        await runtime.redis.exists(f"{prefix}idem:caller:old", f"{prefix}idem:caller:new")
    )
    return counts


async def test_prune_deletes_every_kind_older_than_its_retention_and_keeps_the_rest(
    runtime: Runtime,
) -> None:
    for _ in range(3):  # three of each, so a batch of 2 needs two rounds
        await _write_old_and_new(runtime, age_days=3)
    settings = RetentionSettings(
        **{f"retention_{kind}_days": 2 for kind in get_args(Kind)},
        prune_batch=2,
    )
    results = await prune(runtime, settings)
    assert {r.error for r in results} == {None}
    counts = await _counts(runtime)
    assert counts == {
        "runtime.processed_messages": 3,
        "runtime.failed_jobs": 3,
        "runtime.audit_log": 3,
        "sms.attempts": 3,
        "sms.receipts": 3,
        "notifications.notifications": 3,
        "dashboard": 1,
        "dashboard tag": 1,
        "job records": 1,
        "idempotency": 1,
    }
    deleted = {r.rule: r.deleted for r in results}
    assert deleted["runtime.failed_jobs"] == 3 and deleted["sms.receipts"] == 3


async def test_zero_days_keeps_a_kind_forever(runtime: Runtime) -> None:
    await _write_old_and_new(runtime, age_days=400)
    settings = RetentionSettings(retention_failed_jobs_days=0, retention_sse_replay_days=0)
    results = await prune(runtime, settings)
    assert "runtime.failed_jobs" not in {r.rule for r in results}
    counts = await _counts(runtime)
    assert counts["runtime.failed_jobs"] == 2 and counts["notifications.notifications"] == 2
    assert counts["runtime.processed_messages"] == 1


async def test_relay_prune_runs_it_by_hand(runtime: Runtime, env: dict[str, Any]) -> None:
    await _write_old_and_new(runtime, age_days=3)
    done = await asyncio.to_thread(
        subprocess.run,
        [RELAY, "prune"],
        env={**os.environ, **env, "RETENTION_PROCESSED_MESSAGES_DAYS": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runtime.processed_messages" in done.stdout
    counts = await _counts(runtime)
    assert counts["runtime.processed_messages"] == 1
    assert counts["runtime.failed_jobs"] == 2, "30 days by default: three-day-old ones stay"
    assert counts["runtime.audit_log"] == 2, "365 days by default"
