"""Laravel bridge throughput: `SendSmsJob`s per second through one `bridge` process into
accepted SMS (row stored, its Relay job confirmed, the Laravel message acked), beside raw
aio-pika consume-and-republish (confirmed, then acked) of the same messages, on the same
machine in the same run.

    .venv/bin/python -m bench.laravel_bench [--jobs 10000] [--prefetch 100]

Both sides start from the same backlog: N payloads built by real Laravel (tests/laravel's
publish.php, Laravel's own createPayload) and published as the RabbitMQ driver does before
the consumer starts. The bridge runs alone (no sms worker: an accepted SMS is one queued
for sending, as a 202 is), against a fresh vhost and database. Prints figures and the
ratio; asserts nothing but completeness. The machine is shared: read them as indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage

from tests.support import Stack, fresh_database, fresh_vhost, resolve_services
from tests.support.laravel import LaravelMessage, laravel_messages, require_php

SMS_JOB = "App\\Jobs\\SendSmsJob"
LARAVEL_QUEUE = "sms"


def build(jobs: int) -> list[LaravelMessage]:
    """`jobs` distinct SendSmsJob payloads, built by Laravel (not published)."""
    spec = {"class": SMS_JOB, "args": [1, "+241 77 75 07 37", "Votre code: 1234"], "count": jobs}
    return laravel_messages([spec], queue=LARAVEL_QUEUE, timeout=600)


async def preload(url: str, queue: str, messages: list[LaravelMessage]) -> None:
    """The backlog, published as the driver publishes (durable queue, no arguments)."""
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, durable=True)
        window = asyncio.Semaphore(500)

        async def publish(message: LaravelMessage) -> None:
            async with window:
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        message.body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        correlation_id=message.id,
                        headers={"laravel": {"attempts": 0}},
                    ),
                    routing_key=queue,
                )

        await asyncio.gather(*(publish(m) for m in messages))


async def raw_republish(url: str, jobs: int, prefetch: int) -> float:
    """Messages per second: consume the backlog (a classic queue, as Laravel's), republish
    each (confirmed) to a quorum queue (as Relay's work queues are), then ack it; the clock
    runs from the first delivery to the last ack."""
    async with await aio_pika.connect(url) as connection:
        publisher = await connection.channel(publisher_confirms=True)
        consumer = await connection.channel()
        await consumer.set_qos(prefetch_count=prefetch)
        await publisher.declare_queue("raw.out", durable=True, arguments={"x-queue-type": "quorum"})
        queue = await consumer.declare_queue("raw.in", durable=True)
        done = asyncio.Event()
        acked = 0
        first: float | None = None

        async def on_message(message: AbstractIncomingMessage) -> None:
            nonlocal acked, first
            first = first or time.monotonic()
            await publisher.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    headers=message.headers,
                ),
                routing_key="raw.out",
            )
            await message.ack()
            acked += 1
            if acked == jobs:
                done.set()

        await queue.consume(on_message)
        await asyncio.wait_for(done.wait(), 600)
        assert first is not None
        return jobs / (time.monotonic() - first)


async def bridge_rate(stack: Stack, jobs: int) -> tuple[float, dict[str, Any]]:
    """Accepted SMS per second through the bridge: from the first SMS row's transaction to
    the moment every row exists, no staged job is left unconfirmed and the Laravel queue
    is empty."""
    database = await asyncpg.connect(stack.env["DATABASE_URL"])
    connection = await aio_pika.connect(stack.env["RABBITMQ_URL"])
    try:
        channel = await connection.channel()
        deadline = time.monotonic() + 600
        while True:
            try:
                rows = await database.fetchval("SELECT count(*) FROM sms.messages")
                staged = await database.fetchval("SELECT count(*) FROM runtime.outbox")
            except asyncpg.UndefinedTableError:  # the bridge has not migrated yet
                rows = staged = -1
            waiting = await channel.declare_queue(LARAVEL_QUEUE, passive=True)
            left = waiting.declaration_result.message_count
            if rows == jobs and staged == 0 and left == 0:
                finished = time.time()
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"bridge stalled: {rows} rows, {staged} staged, {left} left")
            await asyncio.sleep(0.02)
        started = await database.fetchval(
            "SELECT extract(epoch FROM min(created_at)) FROM sms.messages"
        )
        queued = await channel.declare_queue("sms.send", passive=True)
        detail = {
            "relay_jobs_queued": queued.declaration_result.message_count,
            "distinct_ids": await database.fetchval("SELECT count(DISTINCT id) FROM sms.messages"),
        }
        return jobs / (finished - float(started)), detail
    finally:
        await connection.close()
        await database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--prefetch", type=int, default=100)
    args = parser.parse_args()
    require_php()
    services = resolve_services()
    if isinstance(services, str):
        raise SystemExit(f"services unavailable: {services}")
    print(f"building {args.jobs} SendSmsJob payloads with Laravel ...", flush=True)
    messages = build(args.jobs)
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        asyncio.run(preload(vhost, "raw.in", messages))
        raw = asyncio.run(raw_republish(vhost, args.jobs, args.prefetch))
        print(
            f"raw aio-pika consume + republish to a quorum queue (confirmed) + ack, prefetch "
            f"{args.prefetch}: {raw:,.0f} msg/s",
            flush=True,
        )

        asyncio.run(preload(vhost, LARAVEL_QUEUE, messages))
        env = {
            "RABBITMQ_URL": vhost,
            "RABBITMQ_MANAGEMENT_URL": services.management,
            "DATABASE_URL": database,
            "REDIS_URL": services.redis,
            "REDIS_KEY_PREFIX": f"bench:laravel:{time.time_ns()}:",
            "SMS_DEFAULT_REGION": "GA",
            "LARAVEL_QUEUES": LARAVEL_QUEUE,
            "LARAVEL_PREFETCH": str(args.prefetch),
            "LOG_LEVEL": "WARNING",
        }
        stack = Stack(env, name="bench_laravel")
        try:
            stack.start("bridge")
            bridge, detail = asyncio.run(bridge_rate(stack, args.jobs))
        finally:
            stack.stop()
    print(
        f"bridge (1 process, prefetch {args.prefetch}): {bridge:,.0f} SendSmsJob/s into accepted "
        f"SMS; {detail['distinct_ids']} SMS rows, {detail['relay_jobs_queued']} sms.send jobs",
        flush=True,
    )
    print(f"ratio bridge / raw: {bridge / raw:.2f}x", flush=True)


if __name__ == "__main__":
    main()
