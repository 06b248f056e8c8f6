"""The Worker: consumes its router's queues and hands each delivery on (consumer.delivery).

Each queue has its own channel and prefetch (changed at run time by the autoscaler);
pausing a queue cancels its consumer, stopping drains the deliveries in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from ..broker import set_up_when_ready
from ..outcomes import JobObserver
from ..publisher import declare
from ..runtime import Runtime
from ..telemetry import metrics
from .delivery import process
from .registry import JobRouter, Route
from .settling import Settler

log = logging.getLogger("relay.jobs")

# Seconds a stop waits on the broker per step: aio-pika's robust channels wait for a
# reconnect first, which while RabbitMQ is down would hold the stop until the SIGKILL.
_BROKER_STEP_TIMEOUT = 5.0


class Worker:
    """Consumes the router's queues, one channel (and prefetch) per queue."""

    def __init__(
        self,
        runtime: Runtime,
        router: JobRouter,
        concurrency: int | None = None,
        prefetch: Mapping[str, int] | None = None,
    ) -> None:
        self.runtime = runtime
        self.router = router
        self.settings = runtime.settings
        self.concurrency = concurrency or self.settings.worker_max_concurrency
        # Fixed prefetch per queue name (e.g. a big one for bulk sends); others: concurrency.
        self._fixed_prefetch = dict(prefetch or {})
        self.observers: list[JobObserver] = []
        self._connection: AbstractRobustConnection | None = None
        self._channels: dict[str, AbstractRobustChannel] = {}
        self._queues: dict[str, aio_pika.abc.AbstractQueue] = {}
        # Consumer tag per queue being consumed; a paused queue has none.
        self._consumers: dict[str, str] = {}
        self.paused: set[str] = set()
        # Pause, continue and autoscaling all swap consumers: one at a time.
        self._consumer_change = asyncio.Lock()
        self._in_flight = 0
        self._settler = Settler(runtime)
        # Bound once: every delivery calls it.
        self._acks_of = self._settler.acks_of
        self._in_flight_by_queue: dict[str, int] = {}
        self.prefetch: dict[str, int] = {}
        self._probe: AbstractRobustChannel | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def connection(self) -> AbstractRobustConnection:
        assert self._connection is not None, "start() the worker first"
        return self._connection

    async def start(self, paused: Iterable[str] = ()) -> None:
        """Connect (waiting for RabbitMQ), declare the topology and consume every queue
        but the `paused` ones; all of it again if the broker goes away meanwhile."""
        self.paused.update(paused)
        self._connection = await set_up_when_ready(
            self.settings.broker_urls, f"relay-{self.runtime.service}-worker", self._consume
        )
        log.info(
            "worker consuming",
            extra={
                "queues": [name for name in self.router.routes if name not in self.paused],
                "paused": sorted(self.paused & set(self.router.routes)),
                "prefetch": self.concurrency,
            },
        )

    async def _consume(self, connection: AbstractRobustConnection) -> None:
        self._channels, self._queues, self._consumers = {}, {}, {}  # each attempt afresh
        await declare(connection, self.router.queues, self.settings)
        for route in self.router.routes.values():
            channel = await connection.channel()
            # Before consuming: a per-consumer prefetch applies to consumers created after it.
            prefetch = self._fixed_prefetch.get(route.queue.name, self.concurrency)
            await channel.set_qos(prefetch_count=prefetch)
            # declare_queue (not get_queue): aio-pika re-consumes only declared queues
            # when it restores the channel after a reconnect.
            # Passive: declare() made it; a queue made under other settings is used as is.
            queue = await channel.declare_queue(route.queue.name, passive=True)
            self._channels[route.queue.name] = channel
            self._queues[route.queue.name] = queue
            if route.queue.name not in self.paused:
                self._consumers[route.queue.name] = await queue.consume(self._callback(route))
            self.prefetch[route.queue.name] = prefetch
            metrics.WORKER_CONCURRENCY.labels(route.queue.name).set(prefetch)

    async def pause(self, queue_name: str) -> bool:
        """Stop taking jobs from `queue_name`; the running ones finish and are acked.

        Cancelling the consumer leaves every waiting message in RabbitMQ. Returns whether
        this call paused it (False: not one of this worker's queues, or already paused).
        """
        if queue_name not in self.router.routes:
            return False
        async with self._consumer_change:
            if queue_name in self.paused:
                return False
            self.paused.add(queue_name)
            tag = self._consumers.pop(queue_name, None)
            if tag is not None and not self._settler.stopping:
                await self._queues[queue_name].cancel(tag)
        return True

    async def resume(self, queue_name: str) -> bool:
        """Take jobs from `queue_name` again, at its current prefetch."""
        async with self._consumer_change:
            if queue_name not in self.paused:
                return False
            self.paused.discard(queue_name)
            queue = self._queues.get(queue_name)
            if queue is not None and not self._settler.stopping:
                callback = self._callback(self.router.routes[queue_name])
                self._consumers[queue_name] = await queue.consume(callback)
        return True

    async def set_concurrency(self, queue_name: str, prefetch: int) -> None:
        """Change how many jobs of `queue_name` may run at once (autoscaling)."""
        if queue_name in self._fixed_prefetch:
            return  # fixed by the service (run_worker's `prefetch`)
        if self._settler.stopping or queue_name not in self._queues:
            return
        async with self._consumer_change:
            channel = self._channels[queue_name]
            await channel.set_qos(prefetch_count=prefetch)
            # RabbitMQ applies a (per-consumer) basic.qos only to consumers created after
            # it, and quorum queues ignore the channel-wide kind: so start a new consumer
            # with the new prefetch, then cancel the old one. Its unacked deliveries stay
            # on the channel and are acked there as their jobs finish. A paused queue has
            # no consumer: continuing it starts one with this prefetch.
            old_tag = self._consumers.get(queue_name)
            if old_tag is not None:
                queue = self._queues[queue_name]
                callback = self._callback(self.router.routes[queue_name])
                self._consumers[queue_name] = await queue.consume(callback)
                await queue.cancel(old_tag)
            self.prefetch[queue_name] = prefetch
            metrics.WORKER_CONCURRENCY.labels(queue_name).set(prefetch)

    def in_flight_of(self, queue_name: str) -> int:
        return self._in_flight_by_queue.get(queue_name, 0)

    async def backlog(self, queue_name: str) -> int:
        """Ready messages of `queue_name` (a passive declare on a channel of its own)."""
        if self._probe is None or self._probe.is_closed:
            assert self._connection is not None
            self._probe = await self._connection.channel()
        # robust=False: a robust channel answers a repeated passive declare from its cache.
        declared = await self._probe.declare_queue(queue_name, passive=True, robust=False)
        return int(declared.declaration_result.message_count or 0)

    async def stop(self, grace: float | None = None) -> None:
        """Stop consuming, let in-flight jobs finish within `grace`, then close.

        Whatever is still unacked when the connection closes goes back to its queue.
        """
        self._settler.stopping = True
        # No lock: a consumer swap stuck on a dead connection must not hold up the drain.
        consumers, self._consumers = self._consumers, {}
        # The robust queue forgets a consumer before sending the cancel: none comes back.
        await asyncio.gather(
            *(
                asyncio.wait_for(self._queues[name].cancel(tag), _BROKER_STEP_TIMEOUT)
                for name, tag in consumers.items()
            ),
            return_exceptions=True,
        )
        grace = self.settings.worker_grace_seconds if grace is None else grace
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning(
                "grace period over; unfinished jobs return to their queues",
                extra={"in_flight": self._in_flight},
            )
        await self._settler.drain()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._connection.close(), _BROKER_STEP_TIMEOUT)

    def _callback(self, route: Route) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: AbstractIncomingMessage) -> None:
            self._acks_of(route.queue.name).delivered(message)  # before any await: tag order
            self._in_flight += 1
            name = route.queue.name
            self._in_flight_by_queue[name] = self._in_flight_by_queue.get(name, 0) + 1
            self._idle.clear()
            route.meters.in_flight.inc()
            try:
                await process(route, message, self._settler, self.observers)
            finally:
                self._in_flight -= 1
                self._in_flight_by_queue[name] -= 1
                route.meters.in_flight.dec()
                if self._in_flight == 0:
                    self._idle.set()

        return on_message
