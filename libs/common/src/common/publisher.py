"""Publishing with publisher confirms over one robust connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

import aio_pika
from aio_pika.abc import AbstractChannel as AmqpChannel
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, DeliveryError, PublishError
from aiormq.abc import AbstractChannel
from aiormq.exceptions import AMQPError as AiormqError
from pamqp.commands import Basic

from . import tracing
from .envelope import Envelope, Job, job_type
from .errors import BrokerUnavailable
from .settings import RuntimeSettings
from .topology import EVENTS, Exchange, Queue, exchange_of

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
    channel: aio_pika.abc.AbstractChannel,
    queues: Iterable[Queue],
    settings: RuntimeSettings,
) -> None:
    """Declare the exchanges, work queues, bindings, retry tiers and parked queues of
    `queues` (idempotent)."""
    queue_type = settings.rabbitmq_queue_type
    declared: dict[str, aio_pika.abc.AbstractExchange] = {}
    events = await channel.declare_exchange(EVENTS.name, EVENTS.type, durable=True)
    declared[EVENTS.name] = events
    for queue in queues:
        exchange_spec: Exchange = exchange_of(queue)
        exchange = declared.get(exchange_spec.name)
        if exchange is None:
            exchange = await channel.declare_exchange(
                exchange_spec.name, exchange_spec.type, durable=True
            )
            declared[exchange_spec.name] = exchange
        work = await channel.declare_queue(
            queue.name, durable=True, arguments=queue.arguments(queue_type)
        )
        await work.bind(exchange, routing_key=queue.routing_key)
        for tier in queue.tiers(queue.retry_delays or settings.job_retry_delays):
            await channel.declare_queue(
                tier.name, durable=True, arguments=tier.arguments(queue_type)
            )
        parked = queue.parked
        await channel.declare_queue(
            parked.name, durable=True, arguments=parked.arguments(queue_type)
        )


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
                        aio_pika.connect_robust(
                            self.settings.rabbitmq_url,
                            timeout=self.settings.publish_timeout,
                            client_properties={"connection_name": "relay-publisher"},
                        ),
                        self.settings.publish_timeout,
                    )
                channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                await declare(channel, self._queues, self.settings)
                self._channel = channel
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
