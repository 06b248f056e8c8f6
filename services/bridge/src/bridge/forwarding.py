"""Jobs of classes Relay does not take yet, republished for the PHP workers to
LARAVEL_UNMAPPED_QUEUE on the Laravel broker, byte for byte: the same body, properties
and headers (the driver's `laravel.attempts` included). Confirmed before the original is
acked, so a job is never lost between the two queues (at worst seen twice by PHP, as
any redelivered Laravel job can be)."""

from __future__ import annotations

import asyncio
import contextlib

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, DeliveryError, PublishError
from aiormq.exceptions import AMQPError as AiormqError
from common.errors import BrokerUnavailable


class Forwarder:
    """Republishes messages unchanged to one queue, waiting for the broker's confirm."""

    def __init__(self, connection: AbstractRobustConnection, queue: str, timeout: float) -> None:
        self.connection = connection
        self.queue = queue
        self.timeout = timeout
        self._channel: AbstractRobustChannel | None = None
        self._opening = asyncio.Lock()

    async def forward(self, message: AbstractIncomingMessage) -> None:
        """`message` on the unmapped queue; BrokerUnavailable when not confirmed."""
        try:
            async with asyncio.timeout(self.timeout):
                channel = await self._confirming()
                underlay = await channel.get_underlay_channel()
                await underlay.basic_publish(
                    message.body,
                    exchange="",
                    routing_key=self.queue,
                    properties=message.properties,
                    mandatory=True,
                )
        except (DeliveryError, PublishError) as refused:
            raise BrokerUnavailable(f"{self.queue} refused the message: {refused!r}") from refused
        except (AMQPError, AiormqError, OSError, TimeoutError, RuntimeError) as trouble:
            await self._discard()
            raise BrokerUnavailable(f"forwarding to {self.queue} failed: {trouble!r}") from trouble

    async def _confirming(self) -> AbstractRobustChannel:
        async with self._opening:
            if self._channel is None or self._channel.is_closed:
                self._channel = await self.connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
            return self._channel

    async def _discard(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                await channel.close()
