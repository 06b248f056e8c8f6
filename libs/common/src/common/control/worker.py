"""Queue control, the worker's side: follow pause / continue / terminate (common.control.queues).

Each worker binds an exclusive queue of its own to the `control` fanout exchange, so a
command reaches every replica within milliseconds. The Redis state is the truth: a worker
reads it before it consumes (a paused queue stays paused across restarts) and again every
RECONCILE_EVERY seconds, which catches a command sent while it was reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Protocol

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..broker import BROKER_TROUBLE
from ..topology import CONTROL
from .queues import ControlCommand, ControlKeys, paused_queues

log = logging.getLogger("relay.control")

RECONCILE_EVERY = 2.0


class Controllable(Protocol):
    """What control needs from a worker (common.consumer.Worker has it)."""

    paused: set[str]

    @property
    def connection(self) -> AbstractRobustConnection: ...

    async def pause(self, queue_name: str) -> bool: ...

    async def resume(self, queue_name: str) -> bool: ...


class WorkerControl:
    """Applies control commands to one worker; `terminate` calls `on_terminate` once."""

    def __init__(
        self,
        worker: Controllable,
        redis: Redis,
        prefix: str,
        *,
        service: str,
        on_terminate: Callable[[], None],
    ) -> None:
        self.worker = worker
        self.redis = redis
        self.prefix = prefix
        self.keys = ControlKeys(prefix)
        self.service = service
        self.on_terminate = on_terminate
        self.terminating = False
        self._terminate_seen: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def initial_paused(self) -> set[str]:
        """The paused queues, read before the worker consumes; remembers the terminate mark.

        Waits for Redis if it went away since the process connected: a start-up never gives up.
        """
        delay = 0.2
        while True:
            try:
                self._terminate_seen = _text(await self.redis.get(self.keys.terminate))
                return set(await paused_queues(self.redis, self.prefix))
            except (RedisError, OSError) as error:
                log.warning("waiting for redis", extra={"error": repr(error)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def listen(self) -> None:
        """Bind this worker's control queue and start the periodic reconcile; if the broker
        goes away meanwhile, again on the restored connection."""
        delay = 0.2
        while True:
            channel = None
            try:
                channel = await self.worker.connection.channel()
                exchange = await channel.declare_exchange(CONTROL.name, CONTROL.type, durable=True)
                queue = await channel.declare_queue(
                    f"control.{self.service}.{uuid.uuid4().hex[:12]}",
                    exclusive=True,
                    auto_delete=True,
                )
                await queue.bind(exchange)
                await queue.consume(self._on_message, no_ack=True)
                break
            except BROKER_TROUBLE as error:
                log.warning("control queue not bound yet", extra={"error": repr(error)})
                if channel is not None:  # not restored half-made after a reconnect
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(channel.close(), 5)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._task = asyncio.create_task(self._reconcile_forever(), name="control-reconcile")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            command = ControlCommand.model_validate_json(message.body)
        except ValidationError as invalid:
            log.warning("control message ignored", extra={"error": str(invalid)})
            return
        await self.apply(command)

    async def apply(self, command: ControlCommand) -> None:
        if command.action == "terminate":
            self._terminate("a terminate request")
        elif command.action == "pause" and await self.worker.pause(command.queue):
            log.info("queue paused: running jobs finish, the rest wait", extra=_q(command.queue))
        elif command.action == "continue" and await self.worker.resume(command.queue):
            log.info("queue continued", extra=_q(command.queue))

    async def reconcile(self) -> None:
        """Match the Redis state: pause, continue or terminate as it says."""
        paused = set(await paused_queues(self.redis, self.prefix))
        for name in paused - self.worker.paused:
            if await self.worker.pause(name):
                log.info("queue paused (caught up from Redis)", extra=_q(name))
        for name in self.worker.paused - paused:
            if await self.worker.resume(name):
                log.info("queue continued (caught up from Redis)", extra=_q(name))
        mark = _text(await self.redis.get(self.keys.terminate))
        if mark is not None and mark != self._terminate_seen:
            self._terminate("a terminate request (caught up from Redis)")

    def _terminate(self, reason: str) -> None:
        if self.terminating:
            return
        self.terminating = True
        log.info("terminating: finishing running jobs, then exiting", extra={"reason": reason})
        self.on_terminate()

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_EVERY)
            try:
                await self.reconcile()
            except (RedisError, OSError) as error:
                log.warning("control state not read", extra={"error": repr(error)})
            except Exception as error:
                # The broker may be reconnecting under a consumer swap; next round.
                log.warning("control reconcile failed", extra={"error": repr(error)})


def _q(queue: str) -> dict[str, str]:
    return {"queue": queue}


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
