"""`relay queue pause` / `continue` and `relay terminate` for the bridge, as for every worker
(common.control): a paused Laravel queue (or its `laravel.<queue>` retry queue) is no
longer consumed by any bridge replica, its jobs wait on it, and the state survives a
restart; terminate makes the bridge drain and exit to be restarted on new code."""

from __future__ import annotations

from aio_pika.abc import AbstractRobustConnection

from .intake import QueueConsumer


class BridgeQueues:
    """The bridge's consumers as common.control sees a worker (its Controllable)."""

    def __init__(self, laravel: QueueConsumer, relay_side: QueueConsumer) -> None:
        self.laravel = laravel
        self.relay_side = relay_side
        self.paused: set[str] = set()

    @property
    def connection(self) -> AbstractRobustConnection:
        # The control exchange lives on the Relay broker.
        assert self.relay_side.connection is not None, "connect the bridge first"
        return self.relay_side.connection

    def _consumer_of(self, queue_name: str) -> QueueConsumer | None:
        for consumer in (self.laravel, self.relay_side):
            if consumer.serves(queue_name):
                return consumer
        return None

    async def pause(self, queue_name: str) -> bool:
        consumer = self._consumer_of(queue_name)
        if consumer is None or not await consumer.pause(queue_name):
            return False
        self.paused.add(queue_name)
        return True

    async def resume(self, queue_name: str) -> bool:
        consumer = self._consumer_of(queue_name)
        if consumer is None or not await consumer.resume(queue_name):
            return False
        self.paused.discard(queue_name)
        return True
