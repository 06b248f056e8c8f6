"""A worker process for runtime tests: each job inserts one row into EFFECT_TABLE.

Run as `python -m tests.integration.worker_app`; SIGKILL / SIGTERM tests drive it.
"""

from __future__ import annotations

import asyncio
import os

from common.consumer import JobContext, JobRouter, run_worker
from common.envelope import Job
from common.runtime import Runtime
from common.settings import RuntimeSettings
from common.topology import Queue

QUEUE = Queue("test.work", "test")
router = JobRouter()


class Work(Job):
    n: int
    sleep: float = 0.0


@router.handler(QUEUE)
async def work(job: Work, ctx: JobContext) -> None:
    if job.sleep:
        await asyncio.sleep(job.sleep)
    async with ctx.transaction() as connection:
        await connection.execute(f"INSERT INTO {os.environ['EFFECT_TABLE']} (n) VALUES ($1)", job.n)


async def main() -> None:
    runtime = await Runtime.start(RuntimeSettings(), "test-worker", queues=router.queues)
    await run_worker(runtime, router)


if __name__ == "__main__":
    asyncio.run(main())
