"""Silenced job types and monitored tags in the dashboard's lifecycle records (Horizon's)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from common.consumer import JobContext, JobRouter, Worker
from common.envelope import Job
from common.errors import Permanent
from common.lifecycle import LifecycleRecorder, LifecycleStore
from common.runtime import Runtime
from common.telemetry import metrics
from common.topology import Queue

from tests.support import eventually_async

FAST = {"job_retry_delays": [0.2], "job_max_attempts": 2, "lifecycle_flush_interval": 0.1}


class Ping(Job):
    n: int
    fail: bool = False


class Order(Job):
    order_id: str
    fail: bool = False


@contextlib.asynccontextmanager
async def _running(runtime: Runtime, router: JobRouter) -> AsyncIterator[LifecycleStore]:
    worker = Worker(runtime, router, concurrency=5)
    recorder = LifecycleRecorder(runtime.redis, runtime.settings, service="test")
    worker.observers.append(recorder.observe)
    recorder.start()
    await worker.start()
    try:
        yield LifecycleStore(runtime.redis, runtime.settings)
    finally:
        await worker.stop(1)
        await recorder.stop()


@pytest.fixture
async def silenced_queue(runtime_factory: Any) -> AsyncIterator[tuple[Runtime, LifecycleStore]]:
    queue = Queue("test.silenced", "test")
    runtime = await runtime_factory([queue], silenced_jobs=["Ping"], **FAST)
    router = JobRouter()

    @router.handler(queue)
    async def ping(job: Ping, ctx: JobContext) -> None:
        if job.fail:
            raise Permanent("ping refused")

    async with _running(runtime, router) as store:
        yield runtime, store


async def test_silenced_jobs_stay_out_of_recent_jobs_and_its_count_but_are_measured(
    silenced_queue: tuple[Runtime, LifecycleStore],
) -> None:
    runtime, store = silenced_queue
    done_before = metrics.JOBS_PROCESSED.labels("test.silenced", "done")._value.get()
    queue = Queue("test.silenced", "test")
    for n in range(3):
        await runtime.publisher.publish(queue, Ping(n=n))
    refused = await runtime.publisher.publish(queue, Ping(n=9, fail=True))

    # A failing silenced job still shows (its error must be seen), alone.
    [failed] = await eventually_async(lambda: store.recent(), timeout=15)
    assert failed.id == refused and failed.outcome == "failed"
    await eventually_async(
        lambda: _at_least(store.minutes(2), 4), timeout=10
    )  # the charts count all four
    assert await store.recent_count() == 1
    done_after = metrics.JOBS_PROCESSED.labels("test.silenced", "done")._value.get()
    assert done_after - done_before == 3  # Prometheus measures the silenced ones


async def test_monitored_tag_keeps_its_jobs_longer_and_counts_done_and_failed(
    runtime_factory: Any,
) -> None:
    queue = Queue("test.monitored", "test")
    runtime = await runtime_factory(
        [queue],
        lifecycle_recent_seconds=120,
        lifecycle_failed_seconds=600,
        lifecycle_monitored_seconds=7200,
        **FAST,
    )
    router = JobRouter()

    @router.handler(queue)
    async def order(job: Order, ctx: JobContext) -> None:
        if job.fail:
            raise Permanent("order rejected")

    async with _running(runtime, router) as store:
        assert await store.monitor("order:o-42") is True
        assert await store.monitor("order:o-42") is False  # already pinned
        kept = [await runtime.publisher.publish(queue, Order(order_id="o-42")) for _ in range(2)]
        await runtime.publisher.publish(queue, Order(order_id="o-42", fail=True))
        other = await runtime.publisher.publish(queue, Order(order_id="o-7"))

        async def counted() -> bool:
            [tag] = await store.monitored()
            return (tag.tag, tag.done, tag.failed) == ("order:o-42", 2, 1)

        await eventually_async(counted, timeout=15)
        await eventually_async(lambda: store.get(other), timeout=5)
        ttl = await runtime.redis.ttl(store.keys.job(kept[0]))
        assert 600 < ttl <= 7200, "a monitored tag's job outlives the recent window"
        assert 0 < await runtime.redis.ttl(store.keys.job(other)) <= 120
        assert len(await store.recent(query="order:o-42")) == 3

        assert await store.stop_monitoring("order:o-42") is True
        assert await store.monitored() == []


async def _at_least(minutes: Any, count: int) -> bool:
    stats = await minutes
    return sum(m.processed for m in stats) >= count
