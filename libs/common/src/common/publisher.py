"""Publishing with publisher confirms over one robust connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel as AmqpChannel
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelPreconditionFailed, DeliveryError, PublishError
from aiormq.abc import AbstractChannel
from aiormq.exceptions import AMQPError as AiormqError
from pamqp.commands import Basic

from . import broker
from .envelope import Envelope, Job, job_type
from .errors import BrokerUnavailable
from .settings import RuntimeSettings
from .telemetry import tracing
from .topology import CONTROL, EVENTS, Exchange, Queue, exchange_of

log = logging.getLogger(__name__)

# aiormq answers "<Connection ...> closed" with a plain RuntimeError when a channel is asked
# of a connection the broker dropped (a reset, not a clean close): broker trouble too.
_BROKER_ERRORS = (
    AMQPError,
    AiormqError,
    OSError,
    ConnectionError,
    asyncio.TimeoutError,
    RuntimeError,
)


async def declare(
    connection: aio_pika.abc.AbstractConnection,
    queues: Iterable[Queue],
    settings: RuntimeSettings,
) -> None:
    """Declare the exchanges, work queues, bindings, retry tiers and parked queues of
    `queues` (idempotent).

    A queue that already exists with other arguments (made under another
    RABBITMQ_QUORUM_SIZE, or by an older version) is used as it is, with a warning:
    RabbitMQ fixes a queue's arguments when it creates it and refuses to redeclare it.
    """
    queue_type, quorum_size = settings.rabbitmq_queue_type, settings.rabbitmq_quorum_size
    channel = await connection.channel()
    try:
        await channel.declare_exchange(EVENTS.name, EVENTS.type, durable=True)
        await channel.declare_exchange(CONTROL.name, CONTROL.type, durable=True)
        exchanges: set[str] = set()
        for queue in queues:
            exchange: Exchange = exchange_of(queue)
            if exchange.name not in exchanges:
                await channel.declare_exchange(exchange.name, exchange.type, durable=True)
                exchanges.add(exchange.name)
            channel, work = await _declare_queue(
                connection, channel, queue.name, queue.arguments(queue_type, quorum_size)
            )
            await work.bind(exchange.name, routing_key=queue.routing_key)
            for tier in queue.tiers(queue.retry_delays or settings.job_retry_delays):
                channel, _ = await _declare_queue(
                    connection, channel, tier.name, tier.arguments(queue_type, quorum_size)
                )
            parked = queue.parked
            channel, _ = await _declare_queue(
                connection, channel, parked.name, parked.arguments(queue_type, quorum_size)
            )
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def _declare_queue(
    connection: aio_pika.abc.AbstractConnection,
    channel: aio_pika.abc.AbstractChannel,
    name: str,
    arguments: dict[str, Any],
) -> tuple[aio_pika.abc.AbstractChannel, aio_pika.abc.AbstractQueue]:
    """Declare `name`; if it exists with other arguments, use it as it is."""
    try:
        return channel, await channel.declare_queue(name, durable=True, arguments=arguments)
    except ChannelPreconditionFailed as drift:
        log.warning(
            "queue exists with other arguments; using it as it is",
            extra={"queue": name, "wanted": arguments, "error": str(drift)},
        )
        # The broker closed the channel with the refusal.
        channel = await connection.channel()
        return channel, await channel.declare_queue(name, passive=True)


class Publisher:
    """Publishes jobs and waits for the broker's confirm; failures raise BrokerUnavailable.

    The connection is opened lazily and reopened by aio-pika after a broker restart; a
    publish that is not confirmed within PUBLISH_TIMEOUT fails fast instead of hanging.
    """

    def __init__(self, settings: RuntimeSettings, queues: Iterable[Queue] = ()) -> None:
        self.settings = settings
        self._queues = list(queues)
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._connect_lock = asyncio.Lock()
        self._in_flight = asyncio.Semaphore(settings.publish_max_in_flight)

    @property
    def connected(self) -> bool:
        return (
            self._connection is not None
            and not self._connection.is_closed
            and self._channel is not None
            and not self._channel.is_closed
        )

    async def connect(self) -> None:
        """Open the connection and declare the topology; BrokerUnavailable if it can't."""
        async with self._connect_lock:
            if self.connected:
                return
            try:
                if self._connection is None or self._connection.is_closed:
                    self._connection = await asyncio.wait_for(
                        broker.connect(
                            self.settings.broker_urls,
                            "relay-publisher",
                            timeout=self.settings.publish_timeout,
                        ),
                        # Each node gets its own connect timeout before the next is tried.
                        self.settings.publish_timeout * len(self.settings.broker_urls),
                    )
                await declare(self._connection, self._queues, self.settings)
                self._channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
            except _BROKER_ERRORS as error:
                await self._discard()
                raise BrokerUnavailable(f"RabbitMQ unreachable: {error!r}") from error

    @contextlib.asynccontextmanager
    async def channel(self) -> AsyncIterator[AmqpChannel]:
        """A channel of its own on the publisher's connection, closed afterwards (e.g. to
        take messages with basic.get); BrokerUnavailable if RabbitMQ is unreachable."""
        await self.connect()
        connection = self._connection
        if connection is None:
            raise BrokerUnavailable("RabbitMQ connection lost")
        try:
            channel = await connection.channel()
        except _BROKER_ERRORS as error:
            raise BrokerUnavailable(f"RabbitMQ unreachable: {error!r}") from error
        try:
            yield channel
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    async def _discard(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 1)

    async def close(self) -> None:
        await self._discard()

    @contextlib.asynccontextmanager
    async def admin_channel(self) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
        """A short-lived channel on the publisher's connection (purge, passive declare).

        Its own channel: a failed passive declare closes the channel it ran on, and the
        publishing channel must survive that.
        """
        await self.connect()
        assert self._connection is not None
        try:
            channel = await self._connection.channel(publisher_confirms=False)
        except _BROKER_ERRORS as error:
            raise BrokerUnavailable(f"RabbitMQ unreachable: {error!r}") from error
        try:
            yield channel
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    async def publish(
        self,
        queue: Queue,
        job: Job,
        *,
        envelope: Envelope | None = None,
    ) -> str:
        """Publish `job` to `queue` via its exchange; returns the message id once confirmed."""
        envelope = envelope or Envelope()
        if not envelope.job_type:
            envelope.job_type = job_type(type(job))
        tracing.inject(envelope.headers)
        await self.publish_body(
            queue.exchange, queue.routing_key, job.model_dump_json().encode(), envelope.properties()
        )
        return envelope.message_id

    async def publish_event(self, routing_key: str, body: bytes) -> None:
        """Publish a live event (e.g. `user.<id>`) to the events exchange."""
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=int(aio_pika.DeliveryMode.NOT_PERSISTENT),
        )
        await self.publish_body(EVENTS.name, routing_key, body, properties, mandatory=False)

    async def publish_body(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: Basic.Properties,
        *,
        mandatory: bool = True,
    ) -> None:
        """Publish `body` with `properties` and wait for the broker's confirm.

        Straight to the underlying aiormq channel (what aio-pika's Exchange.publish does),
        without building an aio-pika Message per job: that object costs more on the hot
        path than everything else the publisher does.
        """
        async with self._in_flight:
            try:
                # asyncio.timeout, not wait_for: no extra task per publish on the hot path.
                async with asyncio.timeout(self.settings.publish_timeout):
                    channel = await self._underlay()
                    await channel.basic_publish(
                        body,
                        exchange=exchange,
                        routing_key=routing_key,
                        properties=properties,
                        mandatory=mandatory,
                    )
            except (DeliveryError, PublishError) as error:
                raise BrokerUnavailable(f"RabbitMQ refused the message: {error!r}") from error
            except asyncio.CancelledError as error:
                # aiormq cancels the confirms still awaited on a connection that closes (a
                # node lost, or another publish that timed out discarded it): broker
                # trouble for this publish, unless this task itself is being cancelled.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                raise BrokerUnavailable("RabbitMQ connection closed before the confirm") from error
            except _BROKER_ERRORS as error:
                if isinstance(error, asyncio.TimeoutError | RuntimeError):
                    # The connection may be wedged mid-reconnect, or dropped; start afresh.
                    await self._discard()
                raise BrokerUnavailable(f"RabbitMQ did not confirm: {error!r}") from error

    async def _underlay(self) -> AbstractChannel:
        channel = self._channel
        if channel is None or channel.is_closed:
            await self.connect()
            channel = self._channel
            assert channel is not None
        return await channel.get_underlay_channel()
