"""The `relay` CLI against real services: `top`, and queue control (pause, continue,
clear with its confirmation, terminate)."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

from common.control import QueueControl, paused_queues

from tests.e2e.ops_support import DEMO, Demo, start_demo_worker
from tests.support import eventually_async
from tests.support.stack import ROOT, free_port


async def test_top_shows_each_queue_with_its_depth(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([DEMO])
    for n in range(3):
        await runtime.publisher.publish(DEMO, Demo(n=n))

    async def frame() -> list[str]:
        shown = await asyncio.to_thread(
            subprocess.run,
            [str(ROOT / ".venv/bin/relay"), "top", "--once"],
            env={**env, "COLUMNS": "160", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert shown.returncode == 0, shown.stderr
        assert "Relay queues at" in shown.stdout
        [row] = [line for line in shown.stdout.splitlines() if DEMO.name in line]
        cells = [cell.strip() for cell in row.strip("│┃ ").split("│")]
        # The management API refreshes its counts every few seconds.
        assert cells[:2] == [DEMO.name, "3"], cells
        return cells

    await eventually_async(frame, timeout=30, interval=1)


def relay(env: dict[str, Any], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/relay"), *args],
        env={**env, "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


async def test_queue_clear_asks_first_and_force_skips_the_question(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([DEMO])
    control = QueueControl(runtime.redis, runtime.publisher, runtime.settings)
    for n in range(4):
        await runtime.publisher.publish(DEMO, Demo(n=n))

    declined = await asyncio.to_thread(relay, env, "queue", "clear", DEMO.name, stdin="n\n")
    assert declined.returncode == 1 and "nothing deleted" in declined.stdout
    assert "Delete every job waiting in ops.demo?" in declined.stdout
    assert await control.ready(DEMO.name) == 4

    confirmed = await asyncio.to_thread(relay, env, "queue", "clear", DEMO.name, stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "4 job(s) deleted" in confirmed.stdout
    assert await control.ready(DEMO.name) == 0
    assert '"action": "queue.clear"' in confirmed.stderr  # the audit line

    await runtime.publisher.publish(DEMO, Demo(n=9))
    forced = await asyncio.to_thread(relay, env, "queue", "clear", DEMO.name, "--force")
    assert forced.returncode == 0 and "1 job(s) deleted" in forced.stdout


async def test_queue_pause_and_continue_show_in_relay_queues_and_terminate_ends_workers(
    stack: Any, runtime_factory: Any, env: dict[str, Any]
) -> None:
    worker = start_demo_worker(stack)
    stack.wait_consuming(DEMO.name)
    runtime = await runtime_factory([DEMO])

    def state() -> str:
        shown = relay(env, "queues")
        assert shown.returncode == 0, shown.stderr
        [row] = [line for line in shown.stdout.splitlines() if DEMO.name in line]
        return row.strip("│┃ ").split("│")[-1].strip()

    paused = await asyncio.to_thread(relay, env, "queue", "pause", DEMO.name)
    assert paused.returncode == 0 and "ops.demo paused" in paused.stdout, paused.stderr
    assert await asyncio.to_thread(state) == "paused"
    await runtime.publisher.publish(DEMO, Demo(n=1))
    control = QueueControl(runtime.redis, runtime.publisher, runtime.settings)
    await eventually_async(lambda: _is(control.ready(DEMO.name), 1), timeout=10)

    resumed = await asyncio.to_thread(relay, env, "queue", "continue", DEMO.name)
    assert resumed.returncode == 0 and "ops.demo continued" in resumed.stdout
    assert await asyncio.to_thread(state) == "running"
    await eventually_async(lambda: _is(control.ready(DEMO.name), 0), timeout=10)

    ended = await asyncio.to_thread(relay, env, "terminate")
    assert ended.returncode == 0, ended.stderr
    assert await asyncio.to_thread(stack.processes[worker].wait, 30) == 0


async def test_queue_control_stands_without_postgres_and_its_audit_line_says_so(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([DEMO])
    # Queue control needs Redis and RabbitMQ only; the audit record waits for no database.
    away = {**env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/relay"}
    paused = await asyncio.to_thread(relay, away, "queue", "pause", DEMO.name)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert "audit record not stored" in paused.stderr
    prefix = runtime.settings.redis_key_prefix
    assert DEMO.name in await paused_queues(runtime.redis, prefix)
    resumed = await asyncio.to_thread(relay, env, "queue", "continue", DEMO.name)
    assert resumed.returncode == 0 and "ops.demo continued" in resumed.stdout
    assert DEMO.name not in await paused_queues(runtime.redis, prefix)


async def _is(value: Any, expected: int) -> bool:
    return await value == expected
