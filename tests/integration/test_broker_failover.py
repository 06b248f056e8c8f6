"""RABBITMQ_URLS and RABBITMQ_QUORUM_SIZE against the real broker.

Two TCP relays in front of the one local RabbitMQ stand for two cluster nodes: cutting the
relay a process is connected through is, for that process, its node dying. (The real
three-node cluster is exercised by `make test-cluster`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from common import broker
from common.consumer import JobContext, JobRouter, Worker
from common.envelope import Job
from common.publisher import declare
from common.settings import RuntimeSettings
from common.topology import Queue

from tests.support import eventually_async

QUEUE = Queue("failover.jobs", "failover")


class Tick(Job):
    n: int


class Relay:
    """A TCP relay to the broker that can be cut, as a node of a cluster can die."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.pipes |= {writer, upstream_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))

    @property
    def live_connections(self) -> int:
        return sum(1 for pipe in self.pipes if not pipe.is_closing()) // 2

    async def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        assert self.server is not None
        self.server.close()
        for pipe in self.pipes:
            pipe.transport.abort()
        await self.server.wait_closed()


@pytest.fixture
async def relays(env: dict[str, Any]) -> AsyncIterator[tuple[list[Relay], list[str]]]:
    amqp = urlsplit(env["RABBITMQ_URL"])
    relays = [Relay(amqp.hostname or "127.0.0.1", amqp.port or 5672) for _ in range(2)]
    urls = []
    for relay in relays:
        port = await relay.start()
        netloc = f"{amqp.username}:{amqp.password}@127.0.0.1:{port}"
        urls.append(urlunsplit((amqp.scheme, netloc, amqp.path, "", "")))
    yield relays, urls
    for relay in relays:
        with contextlib.suppress(Exception):
            await relay.cut()


async def test_a_node_listed_first_that_is_down_is_skipped(env: dict[str, Any]) -> None:
    dead = urlunsplit(urlsplit(env["RABBITMQ_URL"])._replace(netloc="guest:guest@127.0.0.1:1"))
    for _ in range(3):  # whichever node the random start picks
        connection = await broker.connect([dead, env["RABBITMQ_URL"]], "relay-test")
        try:
            channel = await connection.channel()
            await channel.declare_exchange("failover.probe", durable=False, auto_delete=True)
        finally:
            await connection.close()


async def test_a_worker_and_a_publisher_move_to_another_node_when_theirs_dies(
    relays: tuple[list[Relay], list[str]], runtime_factory: Any
) -> None:
    nodes, urls = relays
    runtime = await runtime_factory(
        [QUEUE], rabbitmq_urls=urls, job_retry_delays=[0.2], rabbitmq_queue_type="classic"
    )
    router = JobRouter()
    seen: set[int] = set()

    @router.handler(QUEUE)
    async def tick(job: Tick, ctx: JobContext) -> None:
        seen.add(job.n)

    worker = Worker(runtime, router, concurrency=5)
    await worker.start()
    try:
        await runtime.publisher.publish(QUEUE, Tick(n=0))
        await eventually_async(lambda: _done(0 in seen), timeout=10)

        # Both connections go through one node or the other; kill every node in use
        # but one, the way a cluster loses a node.
        busy = [relay for relay in nodes if relay.live_connections]
        survivor = next((r for r in nodes if r not in busy), None)
        if survivor is None:  # both nodes in use: keep the second
            busy, survivor = [nodes[0]], nodes[1]
        started = asyncio.get_running_loop().time()
        for relay in busy:
            await relay.cut()

        # Publishes fail (BrokerUnavailable, the gateway's 503) only while reconnecting.
        published = False
        while not published:
            try:
                await runtime.publisher.publish(QUEUE, Tick(n=1))
                published = True
            except Exception:
                assert asyncio.get_running_loop().time() - started < 20, "no failover"
                await asyncio.sleep(0.2)
        await eventually_async(lambda: _done(1 in seen), timeout=20)
        assert survivor.live_connections >= 1
        logging.getLogger(__name__).info(
            "failover took %.1f s", asyncio.get_running_loop().time() - started
        )
    finally:
        await worker.stop(1)


async def test_quorum_size_is_declared_and_an_existing_queue_is_used_as_it_is(
    env: dict[str, Any], services: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sized = RuntimeSettings(rabbitmq_url=env["RABBITMQ_URL"], rabbitmq_quorum_size=3)
    unsized = RuntimeSettings(rabbitmq_url=env["RABBITMQ_URL"])
    connection = await broker.connect(sized.broker_urls, "relay-test")
    try:
        await declare(connection, [QUEUE], sized)
        vhost = env["RABBITMQ_URL"].rsplit("/", 1)[1]
        async with httpx.AsyncClient(base_url=services.management, timeout=10) as api:
            answer = await api.get(f"/api/queues/{vhost}/{QUEUE.name}")
            assert answer.json()["arguments"]["x-quorum-initial-group-size"] == 3
            tier = QUEUE.tiers(sized.job_retry_delays)[0]
            answer = await api.get(f"/api/queues/{vhost}/{tier.name}")
            assert answer.json()["arguments"]["x-quorum-initial-group-size"] == 3

        # Declared again under other settings: RabbitMQ refuses the arguments; start-up
        # goes on with the queue as it is and says so.
        with caplog.at_level(logging.WARNING):
            await declare(connection, [QUEUE], unsized)
        assert "queue exists with other arguments" in caplog.text
    finally:
        await connection.close()


async def test_a_tier_made_before_at_least_once_dead_lettering_is_used_as_it_is(
    env: dict[str, Any], services: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A broker that already holds a tier declared by an older version (at-most-once
    # dead-lettering, no overflow argument) refuses the new arguments; start-up goes on.
    settings = RuntimeSettings(rabbitmq_url=env["RABBITMQ_URL"])
    tier = QUEUE.tiers(settings.job_retry_delays)[0]
    older = {k: v for k, v in tier.arguments("quorum").items()
             if k not in ("x-dead-letter-strategy", "x-overflow")}  # fmt: skip
    connection = await broker.connect(settings.broker_urls, "relay-test")
    try:
        channel = await connection.channel()
        await channel.declare_queue(tier.name, durable=True, arguments=older)
        await channel.close()
        with caplog.at_level(logging.WARNING):
            await declare(connection, [QUEUE], settings)
        assert "queue exists with other arguments" in caplog.text
        vhost = env["RABBITMQ_URL"].rsplit("/", 1)[1]
        async with httpx.AsyncClient(base_url=services.management, timeout=10) as api:
            kept = (await api.get(f"/api/queues/{vhost}/{tier.name}")).json()["arguments"]
            assert "x-dead-letter-strategy" not in kept
            other = QUEUE.tiers(settings.job_retry_delays)[1].name
            made = (await api.get(f"/api/queues/{vhost}/{other}")).json()["arguments"]
            assert made["x-dead-letter-strategy"] == "at-least-once"
    finally:
        await connection.close()


async def _done(value: bool) -> bool:
    return value
