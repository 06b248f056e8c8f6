"""Connections to RabbitMQ that survive the loss of a node: any listed node may serve.

aio-pika's RobustConnection reconnects to the one URL it was given and then restores its
channels, queues and consumers. FailoverConnection keeps that recovery and changes only
where each attempt goes: every new attempt (after a failed one, or after the connection
dropped) tries the next node of RABBITMQ_URLS, so a process reaches a live node of the
cluster within a reconnect interval or two instead of waiting for its node to return.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aio_pika.robust_connection import RobustConnection
from tenacity import retry_if_exception_type
from yarl import URL

from .waiting import waiting_for

log = logging.getLogger(__name__)
waiting_log = logging.getLogger("relay.jobs")

# Seconds between reconnect attempts (aio-pika's default is 5): a failover should be
# measured in seconds, and an attempt at a dead node fails fast (connection refused) or
# within the connect timeout.
RECONNECT_INTERVAL = 1.0
# What a call on a connection the broker dropped raises: AMQP errors, a reset socket,
# aiormq's plain RuntimeError ("<Connection> closed", "Channel was not opened"), a timeout.
BROKER_TROUBLE = (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError)


class FailoverConnection(RobustConnection):
    """A RobustConnection whose every connection attempt goes to the next node in turn."""

    def __init__(self, urls: Sequence[str], start: int = 0, **kwargs: Any) -> None:
        self._nodes = [URL(url) for url in (*urls[start:], *urls[:start])]
        self._node = 0
        self._attempted = False
        super().__init__(self._nodes[0], **kwargs)
        self._attempted = False  # __init__ read the URL; that was no connection attempt

    @property
    def url(self) -> URL:
        # aio-pika reads `url` once per connection attempt, right after it cleared the
        # transport: an attempt without a transport moves on to the next node (the first
        # attempt keeps the first node).
        if self.transport is None:
            if self._attempted:
                self._node = (self._node + 1) % len(self._nodes)
                log.info("rabbitmq: trying the next node", extra={"node": self._host()})
            self._attempted = True
        return self._nodes[self._node]

    @url.setter
    def url(self, value: URL) -> None:
        # Set by aio-pika's __init__ and by update_secret (a new password for this node).
        self._nodes[self._node] = URL(value)

    def __str__(self) -> str:
        # Logs and reprs name the current node without moving on (the getter would).
        node = self._nodes[self._node]
        return str(node.with_password("******") if node.password else node)

    def _host(self) -> str:
        node = self._nodes[self._node]
        return f"{node.host}:{node.port}"


async def connect(urls: Sequence[str], name: str, **kwargs: Any) -> AbstractRobustConnection:
    """A robust connection to one of `urls`, moving to another node whenever it drops."""
    if len(urls) == 1:
        single: AbstractRobustConnection = await aio_pika.connect_robust(
            urls[0],
            client_properties={"connection_name": name},
            reconnect_interval=RECONNECT_INTERVAL,
            **kwargs,
        )
        return single
    # Each process starts at a random node, so a cluster's clients spread out; the first
    # connection tries every node once before giving up, as a single URL fails at once.
    first = random.randrange(len(urls))
    failure: BaseException | None = None
    for offset in range(len(urls)):
        connection = FailoverConnection(
            urls,
            (first + offset) % len(urls),
            client_properties={"connection_name": name},
            reconnect_interval=RECONNECT_INTERVAL,
            **kwargs,
        )
        try:
            await connection.connect(timeout=kwargs.get("timeout"))
            return connection
        except CONNECTION_EXCEPTIONS as error:
            failure = error
            log.warning("rabbitmq node unreachable", extra={"node": str(connection)})
            await connection.close()
    assert failure is not None
    raise failure


async def connect_when_ready(urls: list[str], name: str) -> AbstractRobustConnection:
    """A robust connection to any node of `urls` (named `name` in the management UI),
    retried with backoff (0.2 s doubling to 5 s) until one answers."""
    unreachable = retry_if_exception_type((OSError, aio_pika.exceptions.AMQPError))
    async for attempt in waiting_for("rabbitmq", unreachable, waiting_log):
        with attempt:
            return await connect(urls, name)
    raise AssertionError("unreachable: AsyncRetrying retries until connect returns")


async def set_up_when_ready(
    urls: list[str], name: str, set_up: Callable[[AbstractRobustConnection], Awaitable[None]]
) -> AbstractRobustConnection:
    """A connection as `connect_when_ready` gives, on which `set_up` (declare, open channels,
    consume) has run to the end: if the broker goes away meanwhile, both start over on a
    new connection, so a process started around a broker restart does not give up."""
    went_away = retry_if_exception_type(BROKER_TROUBLE)
    async for attempt in waiting_for(
        "rabbitmq (it went away during start-up)", went_away, waiting_log
    ):
        with attempt:
            connection = await connect_when_ready(urls, name)
            try:
                await set_up(connection)
            except BROKER_TROUBLE:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 5)
                raise
            return connection
    raise AssertionError("unreachable: AsyncRetrying retries until set_up completes")
