"""The job runtime against real RabbitMQ, Postgres and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pika
import pytest
from common.consumer import Death, JobContext, JobRouter, Unfinished, Worker
from common.envelope import Envelope, Job
from common.errors import Permanent, RetryLater
from common.runtime import Runtime
from common.topology import Queue

from tests.integration.worker_app import QUEUE as WORK_QUEUE
from tests.integration.worker_app import Work
from tests.support import eventually_async
from tests.support.amqp import wait_consuming

QUEUE = Queue("test.jobs", "test")
FAST = {"job_retry_delays": [0.2, 0.5], "job_max_attempts": 3, "job_timeout": 5.0}


class Ping(Job):
    key: str


async def start_worker(runtime: Runtime, router: JobRouter) -> Worker:
    worker = Worker(runtime, router, concurrency=10)
    await worker.start()
    return worker


async def test_job_failing_twice_succeeds_on_third_attempt_after_delays(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    attempts: list[tuple[int, float]] = []

    @router.handler(QUEUE)
    async def flaky(job: Ping, ctx: JobContext) -> None:
        attempts.append((ctx.attempt, time.monotonic()))
        if ctx.attempt < 3:
            raise RuntimeError("provider hiccup")

    worker = await start_worker(runtime, router)
    await runtime.publisher.publish(QUEUE, Ping(key="a"))
    await eventually_async(lambda: _true(len(attempts) == 3), timeout=10)
    await asyncio.sleep(0.3)
    await worker.stop(1)
    assert [attempt for attempt, _ in attempts] == [1, 2, 3]
    assert attempts[1][1] - attempts[0][1] >= 0.2
    assert attempts[2][1] - attempts[1][1] >= 0.5
    assert await runtime.failed_jobs.count() == 0


async def test_job_always_failing_lands_in_failed_store_and_retry_runs_it(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    broken = {"on": True}
    done: list[str] = []

    @router.handler(QUEUE)
    async def always_fails(job: Ping, ctx: JobContext) -> None:
        if broken["on"]:
            raise ValueError(f"cannot handle {job.key}")
        done.append(job.key)

    worker = await start_worker(runtime, router)
    message_id = await runtime.publisher.publish(QUEUE, Ping(key="dead"))
    failed = await eventually_async(lambda: runtime.failed_jobs.list(), timeout=10)
    [record] = failed
    assert record.attempts == 3
    assert record.queue == QUEUE.name
    assert record.type == "Ping"
    assert record.message_id == message_id
    assert record.payload == {"key": "dead"}
    assert "ValueError: cannot handle dead" in record.error
    assert "Traceback" in record.traceback and "always_fails" in record.traceback

    broken["on"] = False
    await runtime.failed_jobs.retry(record.id, runtime.publisher)
    await eventually_async(lambda: _true(done == ["dead"]))
    assert await runtime.failed_jobs.count() == 0
    await worker.stop(1)


async def test_permanent_error_fails_without_retry(runtime_factory: Any) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    calls: list[int] = []

    @router.handler(QUEUE)
    async def rejects(job: Ping, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise Permanent("recipient rejected")

    worker = await start_worker(runtime, router)
    await runtime.publisher.publish(QUEUE, Ping(key="x"))
    [record] = await eventually_async(lambda: runtime.failed_jobs.list())
    assert record.attempts == 1 and calls == [1]
    assert "recipient rejected" in record.error
    await worker.stop(1)


class Parts(Job):
    keys: list[str]


async def test_a_job_of_parts_retries_and_buries_each_part_on_its_own(
    runtime_factory: Any,
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    seen: list[tuple[tuple[str, ...], int, float]] = []
    mourned: list[tuple[tuple[str, ...], str]] = []

    async def died(job: Parts, ctx: JobContext, death: Death) -> None:
        mourned.append((tuple(job.keys), death.reason))

    @router.handler(QUEUE, on_dead=died)
    async def in_parts(job: Parts, ctx: JobContext) -> list[Unfinished]:
        seen.append((tuple(job.keys), ctx.attempt, time.monotonic()))
        unfinished = []
        for key in job.keys:
            part = Parts(keys=[key])
            if key == "bad":
                unfinished.append(Unfinished(part, key, Permanent("refused")))
            elif key == "flaky" and ctx.attempt < 2:
                unfinished.append(Unfinished(part, key, RuntimeError("hiccup")))
            elif key == "big" and len(job.keys) > 1:  # handed back once, then done
                unfinished.append(Unfinished(part, "now", RetryLater(0, "split")))
        return unfinished

    worker = await start_worker(runtime, router)
    await runtime.publisher.publish(QUEUE, Parts(keys=["ok", "flaky", "bad", "big"]))
    await eventually_async(lambda: _true(len(seen) == 3), timeout=10)
    await asyncio.sleep(0.3)
    await worker.stop(1)
    whole, *parts = seen
    assert whole[:2] == (("ok", "flaky", "bad", "big"), 1)
    by_keys = {keys: (attempt, at) for keys, attempt, at in parts}
    # delay 0: straight back to the work queue; a retry: its tier, with the next attempt.
    assert by_keys[("big",)][0] == 1
    assert by_keys[("flaky",)][0] == 2 and by_keys[("flaky",)][1] - whole[2] >= 0.2
    [record] = await runtime.failed_jobs.list()
    assert (record.queue, record.message_id, record.type) == (QUEUE.name, "bad", "Parts")
    assert record.payload == {"keys": ["bad"]} and record.error == "Permanent: refused"
    assert mourned == [(("bad",), "refused")], "on_dead runs once, for the dead part only"


async def test_retry_later_waits_without_spending_an_attempt(runtime_factory: Any) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    seen: list[int] = []

    @router.handler(QUEUE)
    async def throttled(job: Ping, ctx: JobContext) -> None:
        seen.append(ctx.attempt)
        if len(seen) < 4:
            raise RetryLater(0.3 if len(seen) < 3 else 1.5, "throttled")

    worker = await start_worker(runtime, router)
    await runtime.publisher.publish(QUEUE, Ping(key="t"))
    await eventually_async(lambda: _true(len(seen) == 4), timeout=10)
    await worker.stop(1)
    assert seen == [1, 1, 1, 1]
    assert await runtime.failed_jobs.count() == 0


async def test_poison_messages_go_to_failed_store_at_once_and_consuming_goes_on(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    handled: list[str] = []

    @router.handler(QUEUE)
    async def record(job: Ping, ctx: JobContext) -> None:
        handled.append(job.key)

    worker = await start_worker(runtime, router)
    # Publish with pika, as a foreign producer would: raw bytes, no envelope.
    connection = pika.BlockingConnection(pika.URLParameters(env["RABBITMQ_URL"]))
    channel = connection.channel()
    channel.confirm_delivery()
    for body in (b"not json {", b'{"wrong": "shape"}'):
        channel.basic_publish(
            "test", QUEUE.name, body, pika.BasicProperties(message_id=str(uuid.uuid4()))
        )
    connection.close()
    await runtime.publisher.publish(QUEUE, Ping(key="fine"))

    failed = await eventually_async(lambda: _len(runtime.failed_jobs.list(), 2))
    await eventually_async(lambda: _true(handled == ["fine"]))
    assert all(job.attempts == 1 and job.error.startswith("invalid payload") for job in failed)
    assert {str(job.payload) for job in failed} == {"not json {", "{'wrong': 'shape'}"}
    await worker.stop(1)


async def test_handler_slower_than_timeout_is_a_failed_attempt(runtime_factory: Any) -> None:
    runtime = await runtime_factory([QUEUE], **{**FAST, "job_timeout": 0.3, "job_max_attempts": 2})
    router = JobRouter()
    attempts: list[int] = []

    @router.handler(QUEUE)
    async def slow(job: Ping, ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        await asyncio.sleep(5)

    worker = await start_worker(runtime, router)
    await runtime.publisher.publish(QUEUE, Ping(key="slow"))
    [record] = await eventually_async(lambda: runtime.failed_jobs.list(), timeout=10)
    assert attempts == [1, 2]
    assert record.attempts == 2 and "timed out after 0.3s" in record.error
    await worker.stop(1)


async def test_connection_closed_by_broker_is_reestablished(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    handled: list[str] = []

    @router.handler(QUEUE)
    async def record(job: Ping, ctx: JobContext) -> None:
        handled.append(job.key)

    worker = await start_worker(runtime, router)
    await runtime.publisher.publish(QUEUE, Ping(key="before"))
    await eventually_async(lambda: _true(handled == ["before"]))

    vhost = env["RABBITMQ_URL"].rsplit("/", 1)[1]
    api = env["RABBITMQ_MANAGEMENT_URL"] + "/api"
    async with httpx.AsyncClient(timeout=10) as client:
        connections = await eventually_async(
            lambda: _vhost_connections(client, api, vhost, at_least=2), timeout=10
        )
        for connection in connections:
            await client.delete(
                f"{api}/connections/{connection['name']}",
                headers={"X-Reason": "test: broker closes the connection"},
            )
        await eventually_async(
            lambda: _vhost_connections(client, api, vhost, at_least=2), timeout=20
        )

    async def delivered_after_reconnect() -> bool:
        try:
            await runtime.publisher.publish(QUEUE, Ping(key="after"))
        except Exception:
            return False
        return True

    await eventually_async(delivered_after_reconnect, timeout=20, interval=0.5)
    await eventually_async(lambda: _true("after" in handled), timeout=20)
    await worker.stop(1)


async def test_changing_retry_delays_restarts_against_existing_queues(runtime_factory: Any) -> None:
    first = await runtime_factory([QUEUE], job_retry_delays=[10, 30, 60])
    router = JobRouter()
    calls: list[int] = []

    @router.handler(QUEUE)
    async def flaky(job: Ping, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("once")

    worker = await start_worker(first, router)
    await worker.stop(1)
    second = await runtime_factory([QUEUE], job_retry_delays=[0.2, 0.4])
    worker = await start_worker(second, router)
    await second.publisher.publish(QUEUE, Ping(key="k"))
    await eventually_async(lambda: _true(calls == [1, 2]), timeout=10)
    await worker.stop(1)


# -- worker processes: SIGKILL and SIGTERM ------------------------------------------------


async def _effect_table(database_url: str) -> str:
    table = f"effects_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(database_url)
    await connection.execute(f"CREATE TABLE {table} (n int NOT NULL)")  # no unique key on purpose
    await connection.close()
    return table


def _spawn_worker(env: dict[str, Any], table: str, **extra: str) -> subprocess.Popen[bytes]:
    process_env = {**os.environ, **env, "EFFECT_TABLE": table, "LOG_LEVEL": "WARNING", **extra}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.worker_app"], env=process_env, cwd=os.getcwd()
    )


async def _counts(database_url: str, table: str) -> Counter[int]:
    connection = await asyncpg.connect(database_url)
    rows = await connection.fetch(f"SELECT n FROM {table}")
    await connection.close()
    return Counter(row["n"] for row in rows)


async def test_sigkill_mid_batch_loses_nothing_and_duplicates_nothing(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([WORK_QUEUE])
    table = await _effect_table(env["DATABASE_URL"])
    await asyncio.gather(*(runtime.publisher.publish(WORK_QUEUE, Work(n=n)) for n in range(1000)))
    first = _spawn_worker(env, table)
    try:
        await eventually_async(
            lambda: _at_least(_counts(env["DATABASE_URL"], table), 200), timeout=60, interval=0.02
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert sum((await _counts(env["DATABASE_URL"], table)).values()) < 1000, "killed too late"
    finally:
        first.kill()
    replacement = _spawn_worker(env, table)
    try:
        counts = await eventually_async(
            lambda: _at_least(_counts(env["DATABASE_URL"], table), 1000), timeout=60
        )
        await asyncio.sleep(0.5)
        counts = await _counts(env["DATABASE_URL"], table)
        assert set(counts) == set(range(1000))
        assert max(counts.values()) == 1, "a job had its effect twice"
    finally:
        replacement.terminate()
        replacement.wait(30)


async def test_sigterm_lets_in_flight_jobs_finish(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([WORK_QUEUE])
    table = await _effect_table(env["DATABASE_URL"])
    worker = _spawn_worker(env, table, WORKER_MAX_CONCURRENCY="5")
    try:
        await asyncio.to_thread(wait_consuming, env["RABBITMQ_URL"], WORK_QUEUE.name, 1, 30)
        for n in range(5):
            await runtime.publisher.publish(WORK_QUEUE, Work(n=n, sleep=1.5))
        await asyncio.sleep(0.5)  # the five are running now, each for 1.5 s
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 20) == 0
        counts = await _counts(env["DATABASE_URL"], table)
        assert counts == Counter(range(5))
    finally:
        worker.kill()


# -- small async predicates -----------------------------------------------------------------


async def _true(value: bool) -> bool:
    return value


async def _len(coro: Any, n: int) -> Any:
    items = await coro
    return items if len(items) >= n else None


async def _at_least(coro: Any, n: int) -> Any:
    counts = await coro
    return counts if sum(counts.values()) >= n else None


async def _vhost_connections(client: httpx.AsyncClient, api: str, vhost: str, at_least: int) -> Any:
    response = await client.get(f"{api}/vhosts/{vhost}/connections")
    connections = [c for c in response.json() if c.get("state", "running") == "running"]
    return connections if len(connections) >= at_least else None


def test_envelope_round_trip_keeps_ids() -> None:
    envelope = Envelope(job_type="Ping", correlation_id="req-1", user_id="u1", idempotency_key="k")
    properties = envelope.properties()
    assert properties.message_id == envelope.message_id
    assert properties.correlation_id == "req-1"
    assert properties.headers["x-user-id"] == "u1"
    assert properties.delivery_mode == 2


@pytest.mark.parametrize("delays", [[0.2, 0.5], [10, 30, 60]])
def test_tier_names_carry_their_delay(delays: list[float]) -> None:
    names = [tier.name for tier in QUEUE.tiers(delays)]
    assert all(name.startswith("test.jobs.retry.") and name.endswith("s") for name in names)
    assert len(set(names)) == len(names)


async def test_changing_concurrency_mid_flight_acks_each_job_once(runtime_factory: Any) -> None:
    """Autoscaling swaps consumers on one channel; their acks must not settle each other's jobs."""
    runtime = await runtime_factory([QUEUE], **FAST)
    router = JobRouter()
    runs: Counter[str] = Counter()

    @router.handler(QUEUE)
    async def slow(job: Ping, ctx: JobContext) -> None:
        runs[job.key] += 1
        # The first consumer's jobs outlast the new consumer's, whose acks come first.
        await asyncio.sleep(1.0 if int(job.key) < 5 else 0.05)

    worker = Worker(runtime, router, concurrency=5)
    await worker.start()
    for n in range(40):
        await runtime.publisher.publish(QUEUE, Ping(key=str(n)))
    await asyncio.sleep(0.1)  # five jobs are running on the first consumer
    channel = await worker._channels[QUEUE.name].get_underlay_channel()
    await worker.set_concurrency(QUEUE.name, 10)
    await eventually_async(lambda: _true(len(runs) == 40), timeout=20)
    await asyncio.sleep(1)  # a wrongly settled job would be redelivered by now
    # An ack for a tag already settled by the other consumer makes the broker close the
    # channel (PRECONDITION_FAILED); aio-pika would quietly open a new one.
    assert not channel.is_closed
    assert await worker._channels[QUEUE.name].get_underlay_channel() is channel
    await worker.stop(5)
    assert set(runs.values()) == {1}, f"jobs run more than once: {runs.most_common(3)}"
    assert await runtime.failed_jobs.count() == 0
