"""Connecting to RabbitMQ at start-up, waiting for it when it is not up yet."""

from __future__ import annotations

import asyncio
import logging

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from . import broker

log = logging.getLogger("relay.jobs")


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
