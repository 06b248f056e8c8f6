"""What the dashboard's lifecycle records cost on the hot path.

    .venv/bin/python -m bench.ops_bench [--n 5000] [--runs 3]

1. observe(): the only part that runs inside a job's settle path (a list append).
2. flush(): one pipelined Redis round trip for a batch, off the hot path.
3. End to end: N no-op jobs through the real Worker on RabbitMQ (a throwaway queue in the
   vhost of RABBITMQ_URL), with and without the recorder attached; jobs/s and the
   difference. Runs alternate so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from common.consumer import JobContext, JobOutcome, JobRouter, Worker
from common.envelope import Job
from common.lifecycle import LifecycleRecorder
from common.runtime import Runtime
from common.settings import RuntimeSettings
from common.topology import Queue


class Tick(Job):
    n: int
    campaign_id: str = "c-1"


def _outcome(i: int) -> JobOutcome:
    return JobOutcome(
        queue="bench.ops",
        job_type="Tick",
        message_id=str(uuid.uuid4()),
        attempt=1,
        outcome="done",
        duration=0.001,
        wait=0.01,
        user_id="u-1",
        body=b'{"n": %d, "campaign_id": "c-1"}' % i,
    )


async def observe_cost(runtime: Runtime, n: int) -> float:
    recorder = LifecycleRecorder(runtime.redis, runtime.settings, service="bench")
    outcomes = [_outcome(i) for i in range(n)]
    started = time.perf_counter()
    for outcome in outcomes:
        await recorder.observe(outcome)
    elapsed = time.perf_counter() - started
    await recorder.flush()
    return elapsed / n * 1e9


async def flush_cost(runtime: Runtime, batch: int) -> float:
    recorder = LifecycleRecorder(runtime.redis, runtime.settings, service="bench")
    for i in range(batch):
        await recorder.observe(_outcome(i))
    started = time.perf_counter()
    await recorder.flush()
    return (time.perf_counter() - started) * 1000


async def through_worker(runtime: Runtime, n: int, recorded: bool) -> float:
    queue = Queue(f"bench.ops.{uuid.uuid4().hex[:8]}", "bench")
    router = JobRouter()
    done = asyncio.Event()
    count = 0

    @router.handler(queue)
    async def tick(job: Tick, ctx: JobContext) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    await runtime.publisher.connect()
    from common.publisher import declare

    await declare(runtime.publisher._connection, [queue], runtime.settings)  # type: ignore[arg-type]
    await asyncio.gather(*(runtime.publisher.publish(queue, Tick(n=i)) for i in range(n)))
    worker = Worker(runtime, router, concurrency=50)
    recorder = LifecycleRecorder(runtime.redis, runtime.settings, service="bench")
    if recorded:
        worker.observers.append(recorder.observe)
        recorder.start()
    started = time.perf_counter()
    await worker.start()
    await done.wait()
    elapsed = time.perf_counter() - started
    await worker.stop(5)
    await recorder.stop()
    channel = await runtime.publisher._connection.channel()  # type: ignore[union-attr]
    await channel.queue_delete(queue.name)
    for tier in queue.tiers(runtime.settings.job_retry_delays):
        await channel.queue_delete(tier.name)
    await channel.close()
    return n / elapsed


async def main(n: int, runs: int) -> None:
    settings = RuntimeSettings(
        redis_key_prefix=f"bench:{uuid.uuid4().hex[:8]}:",
        log_level="WARNING",
        lifecycle_buffer=max(10_000, n),
    )
    runtime = await Runtime.start(settings, "bench", queues=[])
    try:
        ns = statistics.median([await observe_cost(runtime, 20_000) for _ in range(5)])
        flush_ms = statistics.median([await flush_cost(runtime, 500) for _ in range(5)])
        print(f"observe() on the hot path: {ns:,.0f} ns per job (median of 5 x 20,000)")
        print(f"flush() of 500 records:    {flush_ms:,.1f} ms, one pipelined round trip")
        with_rec: list[float] = []
        without: list[float] = []
        for _ in range(runs):
            without.append(await through_worker(runtime, n, recorded=False))
            with_rec.append(await through_worker(runtime, n, recorded=True))
        base, rec = statistics.median(without), statistics.median(with_rec)
        print(f"worker, {n:,} no-op jobs, concurrency 50, median of {runs}:")
        print(f"  without records: {base:,.0f} jobs/s  ({', '.join(f'{v:,.0f}' for v in without)})")
        print(f"  with records:    {rec:,.0f} jobs/s  ({', '.join(f'{v:,.0f}' for v in with_rec)})")
        print(f"  difference:      {100 * (rec - base) / base:+.1f}%")
    finally:
        keys = [key async for key in runtime.redis.scan_iter(f"{settings.redis_key_prefix}*")]
        if keys:
            await runtime.redis.delete(*keys)
        await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.ops_bench", description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.runs))
