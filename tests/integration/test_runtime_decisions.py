"""The runtime alone decides retry, wait or bury, and calls a handler's on_dead hook once
per dead job, after the failed-job store has it, on every path (the parked one included).
A message's own policy headers narrow its queue's."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from common.consumer import Death, JobContext, JobRouter, Outcome, Worker, policy_headers
from common.envelope import Envelope, Job
from common.errors import Permanent
from common.runtime import Runtime
from common.topology import Queue

from tests.support import eventually_async
from tests.support.proxy import proxied

QUEUE = Queue("test.decided", "test")
FAST = {"job_retry_delays": [0.2, 0.5], "job_max_attempts": 3, "job_timeout": 5.0}


class Ping(Job):
    key: str


async def _true(value: bool) -> bool:
    return value


async def start(runtime: Runtime, router: JobRouter) -> Worker:
    worker = Worker(runtime, router, concurrency=10)
    await worker.start()
    return worker


async def test_on_dead_runs_once_after_the_store_has_the_job_whose_attempts_ran_out(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    attempts: list[int] = []
    mourned: list[tuple[str, int, Outcome, str]] = []

    async def died(job: Ping, ctx: JobContext, death: Death) -> None:
        stored = await runtime.failed_jobs.count(QUEUE.name)
        mourned.append((job.key, stored, death.outcome, death.error))

    @router.handler(QUEUE, on_dead=died)
    async def always_failing(job: Ping, ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        raise RuntimeError("provider down")

    worker = await start(runtime, router)
    await runtime.publisher.publish(QUEUE, Ping(key="a"))
    await eventually_async(lambda: _true(len(mourned) == 1), timeout=15)
    await asyncio.sleep(0.5)
    await worker.stop(1)
    assert attempts == [1, 2, 3]
    assert mourned == [("a", 1, Outcome.failed, "RuntimeError: provider down")]


async def test_on_dead_is_not_called_for_a_job_that_recovers_or_waits(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    mourned: list[str] = []
    done: list[str] = []

    async def died(job: Ping, ctx: JobContext, death: Death) -> None:
        mourned.append(job.key)

    @router.handler(QUEUE, on_dead=died)
    async def flaky(job: Ping, ctx: JobContext) -> None:
        if ctx.attempt < 3:
            raise RuntimeError("hiccup")
        done.append(job.key)

    worker = await start(runtime, router)
    await runtime.publisher.publish(QUEUE, Ping(key="b"))
    await eventually_async(lambda: _true(done == ["b"]), timeout=15)
    await worker.stop(1)
    assert mourned == [] and await runtime.failed_jobs.count() == 0


async def test_on_dead_runs_for_a_parked_job_when_the_store_is_away(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    with proxied(env["DATABASE_URL"], 5432) as postgres:
        runtime = await runtime_factory(
            [QUEUE], database_url=postgres.url(env["DATABASE_URL"]), park_after_seconds=1, **FAST
        )
        router = JobRouter()
        mourned: list[tuple[str, Outcome, str]] = []

        async def died(job: Ping, ctx: JobContext, death: Death) -> None:
            mourned.append((job.key, death.outcome, death.reason))

        @router.handler(QUEUE, on_dead=died)
        async def refusing(job: Ping, ctx: JobContext) -> None:
            raise Permanent("number blocked")

        worker = await start(runtime, router)
        postgres.cut()
        await runtime.publisher.publish(QUEUE, Ping(key="c"))
        await eventually_async(lambda: _true(len(mourned) == 1), timeout=30)
        await worker.stop(1)
        postgres.restore()
    assert mourned == [("c", Outcome.parked, "number blocked")]


async def test_a_failing_hook_leaves_the_job_in_the_store_and_never_loops(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    calls: list[str] = []

    async def died(job: Ping, ctx: JobContext, death: Death) -> None:
        calls.append(job.key)
        raise ValueError("bug in the hook")

    @router.handler(QUEUE, on_dead=died)
    async def refusing(job: Ping, ctx: JobContext) -> None:
        raise Permanent("no")

    worker = await start(runtime, router)
    await runtime.publisher.publish(QUEUE, Ping(key="d"))
    await eventually_async(lambda: _true(calls == ["d"]), timeout=10)
    await asyncio.sleep(1.0)
    await worker.stop(1)
    assert calls == ["d"], "the hook is not retried through the job"
    assert await runtime.failed_jobs.count(QUEUE.name) == 1


@pytest.mark.parametrize(
    ("headers", "expected_attempts"),
    [
        (policy_headers(max_attempts=1), [1]),
        (policy_headers(max_attempts=2, delays=(0.2,)), [1, 2]),
        # Laravel's retryUntil(): past, so the first failure is the last one.
        (policy_headers(retry_until=time.time() - 1), [1]),
    ],
    ids=["one-attempt", "two-attempts", "retry-until-passed"],
)
async def test_a_message_narrows_its_queues_policy_with_headers(
    runtime_factory: Any, headers: dict[str, Any], expected_attempts: list[int]
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    attempts: list[int] = []

    @router.handler(QUEUE)
    async def failing(job: Ping, ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        raise RuntimeError("nope")

    worker = await start(runtime, router)
    envelope = Envelope(headers=dict(headers))
    await runtime.publisher.publish(QUEUE, Ping(key="e"), envelope=envelope)
    [record] = await eventually_async(lambda: runtime.failed_jobs.list(QUEUE.name), timeout=15)
    await asyncio.sleep(0.5)
    await worker.stop(1)
    assert attempts == expected_attempts and record.attempts == expected_attempts[-1]


async def test_a_message_timeout_header_cuts_a_slow_handler(runtime_factory: Any) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()

    @router.handler(QUEUE)
    async def slow(job: Ping, ctx: JobContext) -> None:
        await asyncio.sleep(3)

    worker = await start(runtime, router)
    envelope = Envelope(headers=policy_headers(max_attempts=1, timeout=0.3))
    await runtime.publisher.publish(QUEUE, Ping(key="f"), envelope=envelope)
    [record] = await eventually_async(lambda: runtime.failed_jobs.list(QUEUE.name), timeout=15)
    await worker.stop(1)
    assert record.error == "timed out after 0.3s"
