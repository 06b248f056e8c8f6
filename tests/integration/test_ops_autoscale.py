"""Autoscaled concurrency: prefetch rises toward the maximum under a backlog, falls when idle."""

from __future__ import annotations

import asyncio
from typing import Any

from common.consumer import JobContext, JobRouter, Worker
from common.consumer.autoscale import Autoscaler
from common.envelope import Job
from common.topology import Queue

from tests.support import eventually_async

QUEUE = Queue("test.autoscale", "test")


class Nap(Job):
    seconds: float


async def test_concurrency_rises_to_the_maximum_under_backlog_and_falls_back_when_idle(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([QUEUE])
    router = JobRouter()
    running = {"now": 0, "peak": 0}

    @router.handler(QUEUE)
    async def nap(job: Nap, ctx: JobContext) -> None:
        running["now"] += 1
        running["peak"] = max(running["peak"], running["now"])
        try:
            await asyncio.sleep(job.seconds)
        finally:
            running["now"] -= 1

    worker = Worker(runtime, router, concurrency=2)
    await worker.start()
    autoscaler = Autoscaler(worker, low=2, high=20, interval=0.2, cooldown=0.5)
    autoscaler.start()
    try:
        await asyncio.gather(
            *(runtime.publisher.publish(QUEUE, Nap(seconds=0.3)) for _ in range(300))
        )
        await eventually_async(lambda: _true(worker.prefetch[QUEUE.name] == 20), timeout=15)
        await eventually_async(lambda: _true(running["peak"] >= 15), timeout=15)
        await eventually_async(lambda: _true(worker.prefetch[QUEUE.name] == 2), timeout=60)
        assert await worker.backlog(QUEUE.name) == 0
    finally:
        await autoscaler.stop()
        await worker.stop(5)


async def _true(value: bool) -> bool:
    return value
