"""Taskiq contender: taskiq with taskiq-aio-pika's AioPikaBroker, in one process like the
raw aio-pika baseline and the relay runtime.

- Publisher: `task.kiq(job)`; the broker's write channel is an aio-pika channel with
  publisher confirms (aio-pika's default) and every message is persistent
  (taskiq-aio-pika always sends `DeliveryMode.PERSISTENT`), so a `kiq` returns once the
  broker confirmed it; at most IN_FLIGHT unconfirmed (semaphore + gather), as in the
  baseline. Taskiq publishes to its own topic exchange (one per run here), bound to the
  work queue.
- Consumer: taskiq's receiver, run in this process with `run_receiver_task` (taskiq's
  documented way to run a worker from one's own code), `ack_type=WHEN_EXECUTED` (ack
  after the task returned), `max_async_tasks` = PREFETCH handlers at once and the
  broker's `qos` = PREFETCH, as in the baseline.
- Queues: a durable classic work queue and the dead-letter queue taskiq-aio-pika always
  declares with it, both per run and deleted afterwards with the exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from taskiq import AcknowledgeType
from taskiq.api import run_receiver_task
from taskiq_aio_pika import AioPikaBroker, Exchange, Queue, QueueType

from bench._infra import (
    AMQP_URL,
    consumer_count,
    delete_exchanges,
    delete_queues,
    fresh_name,
    wait_all_handled,
)
from bench.report import RunResult, Sample

# Its receiver logs a warning when it is cancelled, which is how every run ends here.
logging.getLogger("taskiq").setLevel(logging.ERROR)

IN_FLIGHT = 500
PREFETCH = 256
CONFIG = (
    f"AioPikaBroker qos {PREFETCH}, receiver in-process, max_async_tasks {PREFETCH}, "
    f"ack when_executed, persistent, confirms, {IN_FLIGHT} in flight, classic queue"
)


async def run(n: int) -> RunResult:
    name = fresh_name("bench_taskiq")
    dead_letters = f"{name}.dead_letter"
    broker = AioPikaBroker(
        AMQP_URL,
        qos=PREFETCH,
        exchange=Exchange(name=name),
        task_queues=[Queue(name=name, type=QueueType.CLASSIC)],
        dead_letter_queue=Queue(name=dead_letters, type=QueueType.CLASSIC),
    )
    samples: list[Sample] = []
    done = asyncio.Event()

    @broker.task(task_name="bench.noop")
    async def noop(job: dict[str, float]) -> None:
        """The no-op job handler; its time is taken once it returned, before the ack."""
        samples.append(Sample(int(job["n"]), job["sent_at"], time.time()))
        if len(samples) >= n:
            done.set()

    receiver: asyncio.Task[None] | None = None
    try:
        broker.is_worker_process = True  # opens the read connection at startup
        await broker.startup()
        receiver = asyncio.create_task(
            run_receiver_task(
                broker,
                max_async_tasks=PREFETCH,
                ack_time=AcknowledgeType.WHEN_EXECUTED,
                run_startup=False,
            )
        )
        await _wait_consumer(name)
        in_flight = asyncio.Semaphore(IN_FLIGHT)

        async def publish(i: int) -> None:
            async with in_flight:
                await noop.kiq({"n": i, "sent_at": time.time()})

        await asyncio.gather(*(publish(i) for i in range(n)))
        await wait_all_handled(done, samples)
    finally:
        if receiver is not None:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
        await broker.shutdown()
        await asyncio.to_thread(delete_queues, name, dead_letters)
        await asyncio.to_thread(delete_exchanges, name)
    return RunResult.from_samples("taskiq", n, samples, config=CONFIG)


async def _wait_consumer(queue: str, seconds: float = 30.0) -> None:
    """The receiver consumes from a task of its own: wait until the broker lists it."""
    deadline = time.monotonic() + seconds
    while await asyncio.to_thread(consumer_count, queue) == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no consumer on {queue!r} after {seconds:.0f}s")
        await asyncio.sleep(0.1)
