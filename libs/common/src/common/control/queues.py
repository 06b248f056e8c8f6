"""Queue control, the operator's side: pause and continue a queue, clear it, terminate workers.

Horizon's `horizon:pause` / `horizon:continue` / `horizon:terminate` and Laravel's
`queue:clear`. The state lives in Redis (which queues are paused, the latest terminate
request), so it outlives any worker: a worker reads it when it starts. A message on the
`control` fanout exchange tells every running worker at once (each binds a queue of its
own to it); workers also re-read the state every few seconds (common.control.worker), so
one that was reconnecting when the message went out still follows within moments.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal
from urllib.parse import quote

import aio_pika
import httpx
from aio_pika.exceptions import ChannelNotFoundEntity
from pamqp.commands import Basic
from pydantic import BaseModel
from redis.asyncio import Redis

from ..errors import NotFound
from ..publisher import Publisher
from ..settings import RuntimeSettings
from ..topology import CONTROL


class ControlCommand(BaseModel):
    """What the control exchange carries to every worker."""

    action: Literal["pause", "continue", "terminate"]
    queue: str = ""
    at: float


class PausedQueue(BaseModel):
    """A paused queue: who paused it, and when."""

    queue: str
    at: float
    by: str


class ControlKeys:
    """The Redis keys of queue control, under REDIS_KEY_PREFIX."""

    def __init__(self, prefix: str) -> None:
        self.paused = f"{prefix}ops:paused"  # hash: queue -> PausedQueue (JSON)
        # The latest terminate request's id: a worker that saw another value when it
        # started is running old code (Horizon compares its restart key the same way).
        self.terminate = f"{prefix}ops:terminate"


def is_work_queue(name: str) -> bool:
    """Retry tiers and parked queues are not consumed by workers: only their work queue."""
    return ".retry." not in name and not name.endswith(".parked") and not name.startswith("amq.")


async def paused_queues(redis: Redis, prefix: str) -> dict[str, PausedQueue]:
    """Every paused queue, by name."""
    raw = await redis.hgetall(ControlKeys(prefix).paused)
    return {_text(name): PausedQueue.model_validate_json(value) for name, value in raw.items()}


class QueueControl:
    """Pause, continue and clear queues; ask every worker to finish and exit."""

    def __init__(self, redis: Redis, publisher: Publisher, settings: RuntimeSettings) -> None:
        self.redis = redis
        self.publisher = publisher
        self.settings = settings
        self.keys = ControlKeys(settings.redis_key_prefix)

    async def paused(self) -> dict[str, PausedQueue]:
        return await paused_queues(self.redis, self.settings.redis_key_prefix)

    async def pause(self, queue: str, by: str) -> PausedQueue:
        """Stop every worker taking jobs from `queue`; its messages stay in RabbitMQ."""
        await self.ready(queue)
        paused = PausedQueue(queue=queue, at=time.time(), by=by)
        await self.redis.hset(self.keys.paused, queue, paused.model_dump_json())
        await self._broadcast(ControlCommand(action="pause", queue=queue, at=paused.at))
        return paused

    async def resume(self, queue: str) -> bool:
        """Let every worker take jobs from `queue` again; False if it was not paused."""
        removed = await self.redis.hdel(self.keys.paused, queue)
        if not removed:
            await self.ready(queue)  # NotFound for a queue RabbitMQ does not have
        await self._broadcast(ControlCommand(action="continue", queue=queue, at=time.time()))
        return bool(removed)

    async def terminate(self) -> str:
        """Every worker finishes its running jobs and exits (its process manager restarts
        it on the new code); returns the request's id."""
        request_id = uuid.uuid4().hex
        await self.redis.set(self.keys.terminate, request_id)
        await self._broadcast(ControlCommand(action="terminate", at=time.time()))
        return request_id

    async def ready(self, queue: str) -> int:
        """Ready messages of `queue`; NotFound when RabbitMQ has no such queue."""
        async with self.publisher.admin_channel() as channel:
            try:
                declared = await channel.declare_queue(queue, passive=True)
            except ChannelNotFoundEntity as missing:
                raise NotFound(
                    f"RabbitMQ has no queue {queue!r} on this vhost; `relay queues` lists them"
                ) from missing
        return int(declared.declaration_result.message_count or 0)

    async def clear(self, queue: str, *, tiers: bool = False) -> dict[str, int]:
        """Delete the ready jobs of `queue` (and of its retry tiers): removed, per queue.

        Jobs a worker is running are not ready, so they are not removed: they finish.
        """
        names = [queue, *(await self.tiers_of(queue) if tiers else [])]
        removed: dict[str, int] = {}
        async with self.publisher.admin_channel() as channel:
            for name in names:
                try:
                    declared = await channel.declare_queue(name, passive=True)
                except ChannelNotFoundEntity as missing:
                    raise NotFound(
                        f"RabbitMQ has no queue {name!r} on this vhost; `relay queues` lists them"
                    ) from missing
                purged = await declared.purge()
                removed[name] = int(purged.message_count or 0)
        return removed

    async def tiers_of(self, queue: str) -> list[str]:
        """The retry tiers of `queue` that exist in RabbitMQ (old delays included)."""
        url = f"{self.settings.management_url}/api/queues/{quote(self.settings.vhost, safe='')}"
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(url, params={"columns": "name"})
            response.raise_for_status()
        prefix = f"{queue}.retry."
        return sorted(row["name"] for row in response.json() if row["name"].startswith(prefix))

    async def _broadcast(self, command: ControlCommand) -> None:
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=int(aio_pika.DeliveryMode.NOT_PERSISTENT),
        )
        body = command.model_dump_json().encode()
        await self.publisher.publish_body(CONTROL.name, "", body, properties, mandatory=False)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
