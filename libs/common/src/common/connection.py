"""Connecting to RabbitMQ at start-up, waiting for it when it is not up yet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from . import broker

log = logging.getLogger("relay.jobs")

# What a call on a connection the broker dropped raises: AMQP errors, a reset socket,
# aiormq's plain RuntimeError ("<Connection> closed", "Channel was not opened"), a timeout.
BROKER_TROUBLE = (*CONNECTION_EXCEPTIONS, asyncio.TimeoutError)


async def connect_when_ready(urls: list[str], name: str) -> AbstractRobustConnection:
    """A robust connection to any node of `urls` (named `name` in the management UI),
    retried with backoff until one answers."""
    delay = 0.2
    while True:
        try:
            return await broker.connect(urls, name)
        except (OSError, aio_pika.exceptions.AMQPError) as error:
            log.warning("waiting for rabbitmq", extra={"error": repr(error)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def set_up_when_ready(
    urls: list[str], name: str, set_up: Callable[[AbstractRobustConnection], Awaitable[None]]
) -> AbstractRobustConnection:
    """A connection as `connect_when_ready` gives, on which `set_up` (declare, open channels,
    consume) has run to the end: if the broker goes away meanwhile, both start over on a
    new connection, so a process started around a broker restart does not give up."""
    delay = 0.2
    while True:
        connection = await connect_when_ready(urls, name)
        try:
            await set_up(connection)
            return connection
        except BROKER_TROUBLE as error:
            log.warning(
                "rabbitmq went away during start-up; starting over", extra={"error": repr(error)}
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
