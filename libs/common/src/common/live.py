"""Live events for SSE: one RabbitMQ queue per gateway replica, fanned out in memory.

Every replica binds its own exclusive, auto-deleted queue to the `events` exchange with
`user.#`, so an event published by any worker (or any replica's critical path) reaches
every replica, and each hands it to the streams it holds for that user. What an event
carries is the publishing domain's business: `decode` turns a body into (user, item). Events are not
acknowledged or stored here: a stream that misses one (broker reconnect, full buffer)
reads the gap from Postgres when the next event shows a jump in `seq`, or on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError
from tenacity import retry_if_exception_type

from . import broker
from .topology import EVENTS
from .waiting import waiting_for

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bound the replica's queue in the broker too: a gateway that stalls must not make
# RabbitMQ hold an unbounded backlog of live events nobody will read in time.
_QUEUE_ARGUMENTS = {"x-queue-type": "classic", "x-max-length": 100_000, "x-overflow": "drop-head"}


class EventHub(Generic[T]):
    """The streams of this replica, by user, and the consumer that feeds them."""

    def __init__(
        self,
        rabbitmq_urls: Sequence[str],
        buffer: int,
        decode: Callable[[bytes], tuple[str, T]],
    ) -> None:
        self.rabbitmq_urls = rabbitmq_urls
        self.buffer = buffer
        self.decode = decode
        self.ready = asyncio.Event()
        self.queue_name = (
            f"gateway.events.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        )
        self._streams: dict[str, set[asyncio.Queue[T]]] = defaultdict(set)

    @property
    def stream_count(self) -> int:
        return sum(len(inboxes) for inboxes in self._streams.values())

    @contextlib.contextmanager
    def subscribe(self, user_id: str) -> Iterator[asyncio.Queue[T]]:
        """An inbox receiving `user_id`'s live events while the block runs."""
        inbox: asyncio.Queue[T] = asyncio.Queue(self.buffer)
        self._streams[user_id].add(inbox)
        try:
            yield inbox
        finally:
            inboxes = self._streams.get(user_id)
            if inboxes is not None:
                inboxes.discard(inbox)
                if not inboxes:
                    del self._streams[user_id]

    def dispatch(self, user_id: str, item: T) -> None:
        """Hand `item` to every stream of `user_id` on this replica."""
        for inbox in self._streams.get(user_id, ()):
            with contextlib.suppress(asyncio.QueueFull):
                # A full inbox drops the event: that stream backfills from Postgres.
                inbox.put_nowait(item)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            user_id, item = self.decode(message.body)
        except (ValidationError, ValueError) as invalid:
            log.warning("ignoring malformed live event", extra={"error": str(invalid)})
            return
        self.dispatch(user_id, item)

    async def run(self) -> None:
        """Consume this replica's event queue until cancelled, reconnecting as needed."""
        while True:
            connection = await self._consume()
            try:
                async with connection:
                    await asyncio.Future()  # until cancelled; aio-pika reconnects meanwhile
            except Exception as error:
                self.ready.clear()
                log.warning("live events relay lost rabbitmq", extra={"error": repr(error)})

    async def _consume(self) -> AbstractRobustConnection:
        """Connect, declare and bind this replica's queue and consume it, retrying with
        backoff (0.2 s doubling to 5 s) until RabbitMQ answers."""
        any_error = retry_if_exception_type(Exception)
        async for attempt in waiting_for("rabbitmq (live events relay)", any_error, log):
            with attempt:
                connection = await broker.connect(self.rabbitmq_urls, "relay-gateway-events")
                try:
                    channel = await connection.channel()
                    exchange = await channel.declare_exchange(
                        EVENTS.name, EVENTS.type, durable=True
                    )
                    # A name of our own (not server-named): aio-pika re-declares the queue
                    # under the same name when it restores the channel after a reconnect.
                    queue = await channel.declare_queue(
                        self.queue_name,
                        exclusive=True,
                        auto_delete=True,
                        arguments=_QUEUE_ARGUMENTS,
                    )
                    await queue.bind(exchange, routing_key="user.#")
                    await queue.consume(self._on_message, no_ack=True)
                except BaseException:
                    await connection.close()
                    raise
                self.ready.set()
                log.info("live events relay consuming", extra={"queue": self.queue_name})
                return connection
        raise AssertionError("unreachable: AsyncRetrying retries until the queue is consumed")
