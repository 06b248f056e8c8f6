"""Contender: the Relay runtime end to end, in one process like the raw aio-pika baseline.

Publishes through `common.publisher.Publisher` (confirms, bounded in-flight) and consumes
through `common.consumer.Worker` with retries, the failed-job store and tracing hooks all
active. Variants:
- `run`: no-op handler, classic queue (same queue type as the baseline);
- `run_quorum`: the same on a quorum queue (the product's default);
- `run_idempotent`: the handler opens `ctx.transaction()`, so every job also writes its
  processed-message record to Postgres (the exactly-once path real handlers use).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Literal

from common.consumer import JobContext, JobRouter, Worker
from common.envelope import Job
from common.runtime import Runtime
from common.settings import RuntimeSettings
from common.topology import Queue

from bench._infra import AMQP_URL, STALL_TIMEOUT_S, delete_queues, fresh_name
from bench.report import RunResult, Sample

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFETCH = 256
IN_FLIGHT = 500


class BenchJob(Job):
    n: int
    sent_at: float


async def run(
    n: int,
    *,
    queue_type: Literal["classic", "quorum"] = "classic",
    idempotent: bool = False,
    label: str = "relay runtime",
) -> RunResult:
    settings = RuntimeSettings(
        rabbitmq_url=AMQP_URL,
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        rabbitmq_queue_type=queue_type,
        publish_max_in_flight=IN_FLIGHT,
        worker_max_concurrency=PREFETCH,
        log_level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    queue = Queue(fresh_name("bench_relay"), "bench")
    samples: list[Sample] = []
    done = asyncio.Event()
    router = JobRouter()

    @router.handler(queue)
    async def handle(job: BenchJob, ctx: JobContext) -> None:
        if idempotent:
            async with ctx.transaction():
                pass
        samples.append(Sample(job.n, job.sent_at, time.time()))
        if len(samples) >= n:
            done.set()

    runtime = await Runtime.start(settings, "bench", queues=[queue])
    worker = Worker(runtime, router, concurrency=PREFETCH)
    try:
        await worker.start()
        in_flight = asyncio.Semaphore(IN_FLIGHT)

        async def publish(i: int) -> None:
            # As in the baseline: the job (and its sent_at) is made when its turn to be
            # published comes, not all n up front.
            async with in_flight:
                await runtime.publisher.publish(queue, BenchJob(n=i, sent_at=time.time()))

        await asyncio.gather(*(publish(i) for i in range(n)))
        last = -1
        while not done.is_set():
            if len(samples) == last:
                raise TimeoutError(f"worker stalled at {last} messages")
            last = len(samples)
            try:
                await asyncio.wait_for(done.wait(), timeout=STALL_TIMEOUT_S)
            except TimeoutError:
                continue
    finally:
        await worker.stop(5)
        await runtime.close()
        tiers = [tier.name for tier in queue.tiers(settings.job_retry_delays)]
        await asyncio.to_thread(delete_queues, queue.name, *tiers)
    config = f"Publisher + Worker, prefetch {PREFETCH}, {IN_FLIGHT} in flight, {queue_type} queue"
    if idempotent:
        config += ", processed-message row per job"
    return RunResult.from_samples(label, n, samples, config=config)


async def run_quorum(n: int) -> RunResult:
    return await run(n, queue_type="quorum", label="relay runtime (quorum)")


async def run_idempotent(n: int) -> RunResult:
    return await run(n, idempotent=True, label="relay runtime + idempotency")
