"""A worker process for the ops tests: `python -m tests.e2e.ops_worker_app`.

Runs the real runtime (run_worker: metrics server, lifecycle records, autoscaler) on one
test queue. A job with `fail=True` fails permanently while the Redis flag `demo:broken`
is set, so a test can make a job fail, clear the flag, retry it and see it processed.
"""

from __future__ import annotations

import asyncio

from common.consumer import JobContext, JobRouter, run_worker
from common.envelope import Job
from common.errors import Permanent
from common.runtime import Runtime
from common.settings import RuntimeSettings
from common.topology import Queue

DEMO = Queue("ops.demo", "ops")
router = JobRouter()


class Demo(Job):
    n: int
    sleep: float = 0.0
    fail: bool = False
    campaign_id: str | None = None
    note: str = ""  # added to the failure's message


def broken_flag(settings: RuntimeSettings) -> str:
    return f"{settings.redis_key_prefix}demo:broken"


@router.handler(DEMO)
async def demo(job: Demo, ctx: JobContext) -> None:
    if job.sleep:
        await asyncio.sleep(job.sleep)
    if job.fail and await ctx.runtime.redis.exists(broken_flag(ctx.runtime.settings)):
        raise Permanent(f"demo job {job.n} rejected by the provider{job.note}")


async def main() -> None:
    runtime = await Runtime.start(RuntimeSettings(), "opsdemo", queues=router.queues)
    await run_worker(runtime, router)


if __name__ == "__main__":
    asyncio.run(main())
