"""FastStream contender: its RabbitBroker (aio-pika underneath), in one process like the
raw aio-pika baseline and the relay runtime.

- Publisher: `broker.publish(job, queue, persist=True)` on the broker's channel, which has
  publisher confirms on (FastStream's `Channel(publisher_confirms=True)` default), so
  each publish returns once the broker confirmed it; at most IN_FLIGHT unconfirmed
  (semaphore + gather), as in the baseline.
- Consumer: `@broker.subscriber` on a durable classic queue, `AckPolicy.REJECT_ON_ERROR`
  (FastStream's default, spelled out): the message is acked after the handler returned,
  rejected if it raised. Prefetch PREFETCH via `Channel(prefetch_count=...)`; aio-pika
  runs one task per delivery, so up to PREFETCH handlers run at once, as in the baseline.
- The handler takes the decoded JSON body (FastStream's default codec and FastDepends
  argument parsing, i.e. how a FastStream user writes a handler) and does nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitQueue
from faststream.rabbit.schemas import Channel

from bench._infra import AMQP_URL, delete_queues, fresh_name, wait_all_handled
from bench.report import RunResult, Sample

IN_FLIGHT = 500
PREFETCH = 256
CONFIG = (
    f"RabbitBroker, persist=True, confirms, {IN_FLIGHT} in flight, prefetch {PREFETCH}, "
    "ack after handler, classic queue"
)


async def run(n: int) -> RunResult:
    queue = RabbitQueue(fresh_name("bench_faststream"), durable=True)
    samples: list[Sample] = []
    done = asyncio.Event()
    # logger=None: no log line per message (the other contenders log at WARNING).
    broker = RabbitBroker(
        AMQP_URL,
        default_channel=Channel(prefetch_count=PREFETCH),
        logger=None,
        log_level=logging.WARNING,
    )

    @broker.subscriber(queue, ack_policy=AckPolicy.REJECT_ON_ERROR)
    async def handle(job: dict[str, Any]) -> None:
        """The no-op job handler; its time is taken once it returned, before the ack."""
        samples.append(Sample(int(job["n"]), float(job["sent_at"]), time.time()))
        if len(samples) >= n:
            done.set()

    try:
        # start() declares the queue and attaches the consumer before the first publish.
        await broker.start()
        in_flight = asyncio.Semaphore(IN_FLIGHT)

        async def publish(i: int) -> None:
            async with in_flight:
                await broker.publish({"n": i, "sent_at": time.time()}, queue, persist=True)

        await asyncio.gather(*(publish(i) for i in range(n)))
        await wait_all_handled(done, samples)
    finally:
        await broker.stop()
        await asyncio.to_thread(delete_queues, queue.name)
    return RunResult.from_samples("faststream", n, samples, config=CONFIG)
