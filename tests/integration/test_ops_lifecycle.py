"""Dashboard lifecycle records in Redis: written in batches, searchable, kept for a window."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from common.consumer import JobContext, JobOutcome, JobRouter, Worker
from common.envelope import Envelope, Job
from common.errors import Permanent
from common.lifecycle import LifecycleRecorder, LifecycleStore
from common.topology import Queue

from tests.support import eventually_async

QUEUE = Queue("test.lifecycle", "test")
FAST = {"job_retry_delays": [0.2], "job_max_attempts": 2, "lifecycle_flush_interval": 0.1}


class Charge(Job):
    payment_id: str
    fail: bool = False


async def test_settled_jobs_are_recorded_searchable_and_expire_by_outcome(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory(
        [QUEUE], lifecycle_recent_seconds=120, lifecycle_failed_seconds=900, **FAST
    )
    router = JobRouter()

    @router.handler(QUEUE)
    async def charge(job: Charge, ctx: JobContext) -> None:
        if job.fail:
            raise Permanent("card declined")

    worker = Worker(runtime, router, concurrency=5)
    recorder = LifecycleRecorder(
        runtime.redis, runtime.settings, service="test", status=lambda: (worker.prefetch, 0)
    )
    worker.observers.append(recorder.observe)
    recorder.start()
    await worker.start()
    store = LifecycleStore(runtime.redis, runtime.settings)
    try:
        ok = await runtime.publisher.publish(
            QUEUE, Charge(payment_id="pay-1"), envelope=Envelope(user_id="u-7")
        )
        bad = await runtime.publisher.publish(QUEUE, Charge(payment_id="pay-2", fail=True))
        await eventually_async(lambda: _count(store.recent(), 2), timeout=15)

        done, failed = await store.get(ok), await store.get(bad)
        assert done is not None and done.outcome == "done" and done.type == "Charge"
        assert done.wait is not None and done.duration >= 0
        assert {"user:u-7", "payment:pay-1", "type:Charge"} <= set(done.tags)
        assert failed is not None and failed.outcome == "failed"
        assert failed.error == "Permanent: card declined"

        assert [r.id for r in await store.recent(query="payment:pay-1")] == [ok]
        assert [r.id for r in await store.recent(query="pay-2")] == [bad]  # a bare id
        assert [r.id for r in await store.recent(query="user:u-7")] == [ok]
        assert [r.id for r in await store.recent(query=bad)] == [bad]  # the message id
        assert {r.id for r in await store.recent(query="Charge")} == {ok, bad}  # the type
        assert [r.id for r in await store.failed()] == [bad]

        keys = store.keys
        assert 0 < await runtime.redis.ttl(keys.job(ok)) <= 120
        assert 120 < await runtime.redis.ttl(keys.job(bad)) <= 900

        minute = (await store.minutes(2))[-1]
        assert (minute.done, minute.failed) == (1, 1)
        [status] = await eventually_async(store.workers, timeout=5)
        assert status.concurrency == {QUEUE.name: 5} and status.service == "test"
    finally:
        await worker.stop(1)
        await recorder.stop()
    assert await store.workers() == [], "a stopped worker removes its heartbeat"


async def test_recorder_drops_instead_of_blocking_when_its_buffer_is_full(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([], lifecycle_buffer=100, lifecycle_flush_interval=60)
    recorder = LifecycleRecorder(runtime.redis, runtime.settings, service="test")
    outcome = JobOutcome(
        queue="q", job_type="T", message_id="m", attempt=1, outcome="done", duration=0.001, wait=0.0
    )
    started = time.perf_counter()
    for _ in range(1000):
        await recorder.observe(outcome)
    assert time.perf_counter() - started < 1.0
    assert recorder.dropped == 900
    assert await recorder.flush() == 100


async def test_oldest_wait_grows_while_nothing_consumes_and_resets_when_empty(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([])
    store = LifecycleStore(runtime.redis, runtime.settings)
    now = time.time()
    assert await store.oldest_waits({"a": 3, "b": 0}, now=now) == {"a": 0.0, "b": 0.0}
    later = await store.oldest_waits({"a": 3, "b": 0}, now=now + 42)
    assert later == {"a": 42.0, "b": 0.0}
    assert await store.oldest_waits({"a": 0}, now=now + 50) == {"a": 0.0}
    assert await store.oldest_waits({"a": 1}, now=now + 60) == {"a": 0.0}


async def _count(records: Any, n: int) -> bool:
    found = await records
    await asyncio.sleep(0)
    return len(found) >= n
