"""Consuming queues on one broker: a robust connection (reconnected by itself, like every
Relay process), one channel with a bounded prefetch per queue, the handler's decision
carried out (acks batched per queue as the runtime's workers batch them, or the message
handed back), and a drain on stop.

The Laravel queues are declared as the Laravel RabbitMQ driver declares them (durable, no
arguments), and only when missing: a queue that exists, of whatever kind, is used as it
is, so neither side's declaration ever fails for the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from aio_pika.exceptions import ChannelClosed, ChannelNotFoundEntity
from common.broker import connect_when_ready
from common.consumer.acks import BatchedAcks

log = logging.getLogger("relay.bridge")

# Settles one delivery of a queue: True to ack it, False to hand it back to the queue.
Handler = Callable[[str, AbstractIncomingMessage], Awaitable[bool]]


async def declare_as_laravel(connection: AbstractRobustConnection, name: str) -> None:
    """Make sure queue `name` exists: used as it is when it does (a passive declare),
    else declared as the driver declares it: durable, not exclusive, no arguments."""
    probe = await connection.channel()
    try:
        await probe.declare_queue(name, passive=True, robust=False)
        return
    except ChannelNotFoundEntity:
        pass  # the broker closed the probe channel with the 404
    finally:
        with contextlib.suppress(Exception):
            await probe.close()
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, durable=True, robust=False)
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


class QueueConsumer:
    """Consumes `queues` of one broker, handing every delivery to `handler`."""

    def __init__(self, urls: Sequence[str], name: str, prefetch: int, handler: Handler) -> None:
        self.urls = list(urls)
        self.name = name
        self.prefetch = prefetch
        self.handler = handler
        self.connection: AbstractRobustConnection | None = None
        self._queues: dict[str, AbstractQueue] = {}
        self._consumers: dict[str, str] = {}
        self.paused: set[str] = set()  # `relay queue pause`: declared, not consumed
        self._acks: dict[str, BatchedAcks] = {}
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def connect(self) -> AbstractRobustConnection:
        """Connect, waiting (with backoff) until a node of `urls` answers."""
        if self.connection is None:
            self.connection = await connect_when_ready(self.urls, self.name)
        return self.connection

    def serves(self, queue_name: str) -> bool:
        return queue_name in self._queues

    async def consume(self, queue_name: str, *, paused: bool = False) -> None:
        """Start consuming `queue_name` (it must exist), `prefetch` unacked at most; a
        `paused` one is only made ready, until `resume`."""
        connection = await self.connect()
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        # Passive and robust: aio-pika consumes it again after a reconnect.
        queue = await channel.declare_queue(queue_name, passive=True)
        self._queues[queue_name] = queue
        self._acks[queue_name] = BatchedAcks()
        if paused:
            self.paused.add(queue_name)
        else:
            self._consumers[queue_name] = await queue.consume(self._callback(queue_name))

    async def pause(self, queue_name: str) -> bool:
        """Stop taking messages of `queue_name`; those in hand finish. Whether it paused."""
        if not self.serves(queue_name) or queue_name in self.paused:
            return False
        self.paused.add(queue_name)
        tag = self._consumers.pop(queue_name, None)
        if tag is not None and not self._stopping:
            await self._queues[queue_name].cancel(tag)
        return True

    async def resume(self, queue_name: str) -> bool:
        """Take messages of `queue_name` again. Whether it was paused."""
        if queue_name not in self.paused:
            return False
        self.paused.discard(queue_name)
        if not self._stopping:
            queue = self._queues[queue_name]
            self._consumers[queue_name] = await queue.consume(self._callback(queue_name))
        return True

    async def depth(self, queue_name: str) -> tuple[int, int]:
        """(ready messages, consumers) of `queue_name`, asked of the broker now."""
        connection = await self.connect()
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue_name, passive=True, robust=False)
            result = declared.declaration_result
            return int(result.message_count or 0), int(result.consumer_count or 0)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    def _callback(self, queue_name: str) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        acks = self._acks[queue_name]

        async def on_message(message: AbstractIncomingMessage) -> None:
            acks.delivered(message)  # before any await: tags stay in order
            self._in_flight += 1
            self._idle.clear()
            try:
                if await self.handler(queue_name, message):
                    acks.finished(message)
                else:
                    acks.forget(message)
                    await _hand_back(message)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

        return on_message

    async def stop(self, grace: float) -> None:
        """Stop consuming, let in-flight hand-overs finish within `grace` seconds, close.
        What is still unacked then goes back to its queue."""
        self._stopping = True
        consumers, self._consumers = self._consumers, {}
        for name, tag in consumers.items():
            with contextlib.suppress(ChannelClosed, Exception):
                await self._queues[name].cancel(tag)
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning(
                "grace period over; unfinished Laravel jobs return to their queues",
                extra={"in_flight": self._in_flight, "connection": self.name},
            )
        for acks in self._acks.values():
            await acks.drain()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()


async def _hand_back(message: AbstractIncomingMessage) -> None:
    try:
        await message.nack(requeue=True)
    except Exception as lost:  # the channel closed: the broker returns it anyway
        log.warning("nack lost; the message returns anyway", extra={"error": repr(lost)})
