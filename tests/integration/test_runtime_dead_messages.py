"""Every message a worker receives ends handled, retried or stored with its reason.

Bad messages come from a foreign producer (pika, raw bytes and properties). The failed-job
store keeps their exact bytes; `relay failed retry` republishes them byte for byte. When
Postgres is unreachable, a dead message waits unacked with backoff (no hot loop), or is
parked on `<queue>.parked` and moved into the store once it answers.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import logging
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pika
import pytest
from common.consumer import JobContext, JobRouter, Worker
from common.dead_letters import FailedJobStore
from common.envelope import Job
from common.runtime import Runtime
from common.topology import Queue

from tests.support import eventually_async, proxied

QUEUE = Queue("test.dead", "test")
FAST = {"job_retry_delays": [0.2, 0.5], "job_max_attempts": 3, "job_timeout": 5.0}
RELAY = str(Path(sys.executable).parent / "relay")


class Ping(Job):
    key: str


@dataclass
class Bad:
    """One kind of bad message: what is sent, and what the failed store must say."""

    body: bytes
    reason: str
    properties: dict[str, Any] = field(default_factory=dict)


ODD_HEADERS: dict[str, Any] = {
    "x-attempt": "three",
    "x-user-id": b"\xff\xfe not utf-8",
    "x-enqueued-at": "yesterday",
    "traceparent": 42,
    "nested": {"list": [1, b"\x00\xff", None, True], "nul": "a\x00b"},
    "amount": decimal.Decimal("12.50"),
    "when": datetime.datetime(2020, 1, 2, 3, 4, 5),
}

BAD: dict[str, Bad] = {
    "binary": Bad(bytes(range(256)) * 4, "invalid payload"),
    "not-utf-8": Bad('{"key": "café"}'.encode("latin-1"), "invalid payload"),
    "nul-bytes": Bad(b'{"key": "a\x00b"}\x00\x00', "invalid payload"),
    "empty": Bad(b"", "the body is empty"),
    "megabytes": Bad(os.urandom(5 * 1024 * 1024), "invalid payload"),
    "wrong-type": Bad(b'{"key": "k"}', "does not belong on test.dead", {"type": "Refund"}),
    "missing-type": Bad(b'{"key": 7}', "invalid payload"),
    "wrong-content-type": Bad(
        b'{"key": "k"}', "is not JSON", {"type": "Ping", "content_type": "text/csv"}
    ),
    "odd-headers": Bad(b"{not json", "invalid payload", {"headers": ODD_HEADERS}),
}


def publish_raw(amqp_url: str, messages: dict[str, Bad]) -> None:
    """Publish as a foreign producer would: pika, confirmed, message id = the case's name."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    for name, bad in messages.items():
        properties = pika.BasicProperties(message_id=name, **bad.properties)
        channel.basic_publish("test", QUEUE.name, bad.body, properties)
    connection.close()


async def start_worker(runtime: Runtime, handled: list[str]) -> Worker:
    router = JobRouter()

    @router.handler(QUEUE)
    async def record(job: Ping, ctx: JobContext) -> None:
        handled.append(job.key)

    worker = Worker(runtime, router, concurrency=10)
    await worker.start()
    return worker


async def stored(runtime: Runtime, count: int) -> dict[str, Any] | None:
    jobs = await runtime.failed_jobs.list(limit=100)
    return {job.message_id: job for job in jobs} if len(jobs) >= count else None


async def test_every_kind_of_bad_message_is_stored_with_its_reason_and_exact_bytes(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    handled: list[str] = []
    worker = await start_worker(runtime, handled)
    publish_raw(env["RABBITMQ_URL"], BAD)
    await runtime.publisher.publish(QUEUE, Ping(key="after the bad ones"))

    failed = await eventually_async(lambda: stored(runtime, len(BAD)), timeout=60)
    await eventually_async(lambda: _true(handled == ["after the bad ones"]), timeout=30)
    await worker.stop(1)
    assert set(failed) == set(BAD)
    for name, bad in BAD.items():
        job = failed[name]
        assert bad.reason in job.error, (name, job.error)
        assert job.attempts == 1, name  # refused at once, never retried
        assert await runtime.failed_jobs.body(job.id) == bad.body, name
        assert job.size == len(bad.body), name
    assert failed["binary"].preview and failed["megabytes"].preview
    assert failed["odd-headers"].headers["nested"]["nul"] == "a\\x00b"
    assert failed["odd-headers"].headers["amount"] == "12.5"  # an AMQP decimal, as text


async def test_relay_failed_retry_republishes_the_identical_bytes(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    worker = await start_worker(runtime, [])
    publish_raw(env["RABBITMQ_URL"], BAD)
    await eventually_async(lambda: stored(runtime, len(BAD)), timeout=60)
    await worker.stop(1)  # nothing consumes the retried messages: the test reads them

    done = await asyncio.to_thread(
        subprocess.run,
        [RELAY, "failed", "retry", "--all"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(BAD)} failed job(s) pushed back" in done.stdout
    republished = await asyncio.to_thread(_take_all, env["RABBITMQ_URL"], QUEUE.name)
    assert republished == {name: bad.body for name, bad in BAD.items()}
    assert await runtime.failed_jobs.count() == 0


async def test_a_valid_job_with_no_type_and_odd_headers_is_handled(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    runtime = await runtime_factory([QUEUE], **FAST)
    handled: list[str] = []
    worker = await start_worker(runtime, handled)
    publish_raw(env["RABBITMQ_URL"], {"valid": Bad(b'{"key": "v"}', "", {"headers": ODD_HEADERS})})
    await eventually_async(lambda: _true(handled == ["v"]), timeout=30)
    await worker.stop(1)
    assert await runtime.failed_jobs.count() == 0


async def test_poison_waits_unacked_for_an_unreachable_store_then_is_stored_once(
    runtime_factory: Any, env: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with proxied(env["DATABASE_URL"], 5432) as postgres:
        runtime = await runtime_factory(
            [QUEUE], database_url=postgres.url(env["DATABASE_URL"]), park_after_seconds=600, **FAST
        )
        # Runtime.start set the root logger's handlers; listen again.
        logging.getLogger().addHandler(caplog.handler)
        worker = await start_worker(runtime, [])
        postgres.cut()
        poison = {f"poison-{n}": Bad(b"\x00 poison %d" % n, "invalid payload") for n in range(3)}
        publish_raw(env["RABBITMQ_URL"], poison)

        # Each one tries the store at least three times, backing off: 0.5 s, 1 s, 2 s.
        def waits() -> int:
            return sum("failed-job store unreachable" in r.getMessage() for r in caplog.records)

        await eventually_async(lambda: _true(waits() >= 9), timeout=60, interval=0.2)

        async def held_unacked() -> bool:
            stats = await _queue(env, QUEUE.name)
            return stats.get("messages_unacknowledged") == 3 and stats.get("messages") == 3

        # Nothing is acked before it is stored (the management API samples every 5 s).
        await eventually_async(held_unacked, timeout=30, interval=0.5)
        # Backing off, six tries each cover half a minute; a hot loop makes hundreds.
        assert waits() <= 3 * 6, "tries back off instead of looping"

        postgres.restore()
        direct = FailedJobStore(await asyncpg.create_pool(env["DATABASE_URL"], min_size=1))
        try:
            await eventually_async(lambda: _count(direct, 3), timeout=60, interval=0.2)
        finally:
            await direct.pool.close()
        await worker.stop(1)

    async def settled() -> dict[str, Any] | None:
        stats = await _queue(env, QUEUE.name)
        counts = stats.get("message_stats", {})
        done = stats.get("messages") == 0 and counts.get("deliver_get") == 3
        return stats if done else None

    final = await eventually_async(settled, timeout=60, interval=1)
    assert final["message_stats"].get("redeliver", 0) == 0, "delivered once each, no hot loop"


async def test_poison_is_parked_while_the_store_stays_unreachable_then_listed_as_failed(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    with proxied(env["DATABASE_URL"], 5432) as postgres:
        runtime = await runtime_factory(
            [QUEUE], database_url=postgres.url(env["DATABASE_URL"]), park_after_seconds=1, **FAST
        )
        worker = await start_worker(runtime, [])
        postgres.cut()
        poison = {"parked-1": Bad(b"\xff\x00 one", "invalid payload"), "parked-2": Bad(b"", "")}
        publish_raw(env["RABBITMQ_URL"], poison)

        async def parked() -> bool:
            work, held = await _queue(env, QUEUE.name), await _queue(env, "test.dead.parked")
            return work.get("messages") == 0 and held.get("messages") == 2

        await eventually_async(parked, timeout=60, interval=0.5)
        await worker.stop(1)
        postgres.restore()

    listed = await asyncio.to_thread(
        subprocess.run,
        [RELAY, "failed", "list", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    jobs = {job["message_id"]: job for job in json.loads(listed.stdout)}
    assert set(jobs) == set(poison)
    assert "invalid payload" in jobs["parked-1"]["error"]
    assert "the body is empty" in jobs["parked-2"]["error"]
    assert "failed-job store was unreachable" in jobs["parked-1"]["traceback"]
    direct = FailedJobStore(await asyncpg.create_pool(env["DATABASE_URL"], min_size=1))
    try:
        assert await direct.body(uuid.UUID(jobs["parked-1"]["id"])) == b"\xff\x00 one"
    finally:
        await direct.pool.close()

    async def drained() -> bool:
        return (await _queue(env, "test.dead.parked")).get("messages") == 0

    await eventually_async(drained, timeout=30, interval=0.5)


# -- helpers --------------------------------------------------------------------------------


def _take_all(amqp_url: str, queue: str) -> dict[str, bytes]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    taken: dict[str, bytes] = {}
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        taken[properties.message_id] = body
    connection.close()
    return taken


async def _queue(env: dict[str, Any], name: str) -> dict[str, Any]:
    vhost = env["RABBITMQ_URL"].rsplit("/", 1)[1]
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{env['RABBITMQ_MANAGEMENT_URL']}/api/queues/{vhost}/{name}")
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats


async def _count(store: FailedJobStore, n: int) -> bool:
    return await store.count() == n


async def _true(value: bool) -> bool:
    return value
