"""Baseline: the fastest reasonable hand-written aio-pika producer + consumer.

One connection; a publisher channel with confirms publishing with at most IN_FLIGHT
unconfirmed messages (semaphore + gather); a consumer channel with PREFETCH, a no-op
handler and a manual ack after it. Both run concurrently in one event loop.
"""

from __future__ import annotations

import asyncio
import json
import time

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pamqp.common import Arguments

from bench._infra import AMQP_URL, STALL_TIMEOUT_S, delete_queues, fresh_name
from bench.report import BASELINE, RunResult, Sample

IN_FLIGHT = 500
PREFETCH = 256
CONFIG = f"1 conn, confirms, {IN_FLIGHT} in flight, prefetch {PREFETCH}, classic queue"


async def handle(job: dict[str, float]) -> None:
    """The no-op job handler."""


async def run(
    n: int,
    *,
    in_flight: int = IN_FLIGHT,
    prefetch: int = PREFETCH,
    queue_type: str = "classic",
    label: str = BASELINE,
) -> RunResult:
    queue_name = fresh_name("bench_raw")
    samples: list[Sample] = []
    done = asyncio.Event()

    async def on_message(message: AbstractIncomingMessage) -> None:
        job = json.loads(message.body)
        await handle(job)
        samples.append(Sample(job["n"], job["sent_at"], time.time()))
        await message.ack()
        if len(samples) >= n:
            done.set()

    arguments: Arguments = {"x-queue-type": queue_type} if queue_type != "classic" else None
    try:
        async with await aio_pika.connect(AMQP_URL) as connection:
            publisher = await connection.channel(publisher_confirms=True)
            consumer = await connection.channel()
            await consumer.set_qos(prefetch_count=prefetch)
            queue = await consumer.declare_queue(queue_name, durable=True, arguments=arguments)
            await queue.consume(on_message, no_ack=False)

            exchange = publisher.default_exchange
            sem = asyncio.Semaphore(in_flight)

            async def publish(i: int) -> None:
                async with sem:
                    body = json.dumps({"n": i, "sent_at": time.time()}).encode()
                    await exchange.publish(
                        aio_pika.Message(
                            body,
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=queue_name,
                    )

            await asyncio.gather(*(publish(i) for i in range(n)))
            await _wait_done(done, samples)
    finally:
        await asyncio.to_thread(delete_queues, queue_name)
    return RunResult.from_samples(label, n, samples, config=CONFIG.replace("classic", queue_type))


async def _wait_done(done: asyncio.Event, samples: list[Sample]) -> None:
    last = -1
    while not done.is_set():
        if len(samples) == last:
            raise TimeoutError(f"consumer stalled at {last} messages")
        last = len(samples)
        try:
            await asyncio.wait_for(done.wait(), timeout=STALL_TIMEOUT_S)
        except TimeoutError:
            continue


async def run_quorum(n: int) -> RunResult:
    """Same workload on a quorum queue (what the product uses for work queues)."""
    return await run(n, queue_type="quorum", label="raw aio-pika (quorum)")
