"""Queue control on the demo worker: pause survives a restart, clear empties a queue.

(The sms scenarios, two workers under a campaign, are in test_sms_queue_control.py.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from common.envelope import Envelope

from tests.e2e.ops_support import DEMO, Demo, start_demo_worker
from tests.support import ADMIN_KEY, eventually, eventually_async


def queue_row(admin: httpx.Client, name: str) -> dict[str, Any]:
    answer = admin.get("/v1/ops/queues")
    assert answer.status_code == 200, answer.text
    [row] = [q for q in answer.json()["queues"] if q["name"] == name]
    return dict(row)


async def test_paused_queue_stays_paused_across_a_worker_restart_until_continued(
    stack: Any, runtime_factory: Any
) -> None:
    stack.start("gateway")
    worker = start_demo_worker(stack)
    stack.wait_ready()
    stack.wait_consuming(DEMO.name)
    runtime = await runtime_factory([DEMO])
    with stack.client(ADMIN_KEY) as admin:
        paused = admin.post(f"/v1/ops/queues/{DEMO.name}/pause")
        assert paused.status_code == 200, paused.text
        assert paused.json()["paused"] is True
        eventually(lambda: queue_row(admin, DEMO.name)["paused"], timeout=10)

        # The worker restarts (a deploy, a crash): it comes back without consuming ops.demo.
        assert stack.terminate(worker) == 0
        restarted = start_demo_worker(stack, replica=2)
        for n in range(5):
            await runtime.publisher.publish(DEMO, Demo(n=n))
        eventually(lambda: "worker consuming" in stack.tail(restarted, 50), timeout=60)
        # Three reconcile rounds of the new worker: still nothing taken.
        await asyncio.sleep(6)
        row = eventually(lambda: (r := queue_row(admin, DEMO.name))["ready"] == 5 and r, 15)
        assert row["consumers"] == 0 and row["unacked"] == 0

        resumed = admin.post(f"/v1/ops/queues/{DEMO.name}/continue")
        assert resumed.status_code == 200 and resumed.json()["was_paused"] is True
        eventually(lambda: (r := queue_row(admin, DEMO.name))["ready"] == 0 and not r["paused"], 30)
    recent = f"{runtime.settings.redis_key_prefix}ops:recent"
    await eventually_async(lambda: _equals(runtime.redis.zcard(recent), 5), timeout=10)


async def _equals(value: Any, expected: int) -> bool:
    return await value == expected


async def test_clear_empties_a_queue_and_its_retry_tiers_and_their_counts(
    stack: Any, runtime_factory: Any
) -> None:
    stack.start("gateway")
    stack.wait_ready()
    runtime = await runtime_factory([DEMO])
    for n in range(7):
        await runtime.publisher.publish(DEMO, Demo(n=n))
    # Two jobs waiting out a retry delay in the 60 s tier (longer than this test).
    body = Demo(n=100).model_dump_json().encode()
    for _ in range(2):
        await runtime.publisher.publish_body(
            "", f"{DEMO.name}.retry.60s", body, Envelope(job_type="Demo").properties()
        )
    with stack.client(ADMIN_KEY) as admin:
        # The management API refreshes its counts every few seconds.
        eventually(
            lambda: (r := queue_row(admin, DEMO.name))["ready"] == 7 and r["delayed"] == 2, 30
        )

        cleared = admin.delete(f"/v1/ops/queues/{DEMO.name}/jobs", params={"tiers": "true"})
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["removed"] == 9
        assert cleared.json()["by_queue"][DEMO.name] == 7

        row = eventually(
            lambda: (r := queue_row(admin, DEMO.name))["ready"] == 0 and r["delayed"] == 0 and r,
            timeout=20,
        )
        assert row["unacked"] == 0
        # Nothing left to clear.
        again = admin.delete(f"/v1/ops/queues/{DEMO.name}/jobs", params={"tiers": "true"})
        assert again.json()["removed"] == 0
        assert admin.delete("/v1/ops/queues/no.such/jobs").status_code == 404
        assert admin.post(f"/v1/ops/queues/{DEMO.name}.retry.10s/pause").status_code == 422
    assert "queue.clear" in stack.tail("gateway", 200)
