"""A worker around a broker outage: one that starts while RabbitMQ goes away starts over
instead of exiting, and one told to stop while RabbitMQ is away still stops in time."""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
from aio_pika.exceptions import ChannelNotFoundEntity
from common.consumer import JobContext, JobRouter, Worker
from common.envelope import Job
from common.errors import BrokerUnavailable
from common.topology import Queue

from tests.support import eventually_async
from tests.support.proxy import proxied

QUEUE = Queue("test.broker_loss", "test")
GRACE = 1.0


class Ping(Job):
    key: str


def pings(seen: list[str]) -> JobRouter:
    router = JobRouter()

    @router.handler(QUEUE)
    async def ping(job: Ping, ctx: JobContext) -> None:
        seen.append(job.key)

    return router


async def declared(url: str, queue: str) -> bool:
    """Whether `queue` exists (asked straight to the broker, not through the proxy)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(queue, passive=True)
        except ChannelNotFoundEntity:
            return False
        return True
    finally:
        await connection.close()


async def test_worker_whose_start_up_loses_the_broker_starts_over_and_consumes(
    runtime_factory: Any, vhost_url: str
) -> None:
    seen: list[str] = []
    with proxied(vhost_url, 5672) as broker:
        # Declares nothing itself: the worker creates its queue, tiers and parked queue.
        runtime = await runtime_factory((), rabbitmq_url=broker.url(vhost_url))
        worker = Worker(runtime, pings(seen), concurrency=2)
        starting = asyncio.create_task(worker.start())
        # Cut the moment its work queue exists: its retry tiers and consumer are to come.
        await eventually_async(lambda: declared(vhost_url, QUEUE.name), timeout=30, interval=0)
        broker.cut()
        await asyncio.sleep(1.5)
        assert not starting.done(), starting  # neither started nor given up
        broker.restore()
        await asyncio.wait_for(starting, 60)
        # The publisher lost its connection too: its first call after may be a 503.
        await eventually_async(lambda: _published(runtime, Ping(key="after")), timeout=20)
        await eventually_async(lambda: _true(seen == ["after"]), timeout=20)
        await worker.stop(grace=GRACE)


async def test_worker_stops_within_its_grace_while_the_broker_is_unreachable(
    runtime_factory: Any, vhost_url: str
) -> None:
    with proxied(vhost_url, 5672) as broker:
        runtime = await runtime_factory([QUEUE], rabbitmq_url=broker.url(vhost_url))
        worker = Worker(runtime, pings([]), concurrency=2)
        await worker.start()
        broker.cut()  # the connection drops; aio-pika keeps trying to reconnect
        await asyncio.sleep(0.5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(worker.stop(grace=GRACE), 60)
        # The grace, plus bounded waits for the consumer cancels and the close.
        assert loop.time() - started < GRACE + 12


async def _true(value: bool) -> bool:
    return value


async def _published(runtime: Any, job: Ping) -> bool:
    try:
        await runtime.publisher.publish(QUEUE, job)
    except BrokerUnavailable as unavailable:
        raise AssertionError(str(unavailable)) from unavailable
    return True
