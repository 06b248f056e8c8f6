"""`relay top`: the queues in the terminal."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

from tests.e2e.ops_support import DEMO, Demo
from tests.support import eventually_async
from tests.support.stack import ROOT


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
