"""Queue control (Horizon's pause / continue / terminate, Laravel's `queue:clear`):
`/v1/ops/queues/{queue}/...` and `/v1/ops/workers/terminate`, the dashboard's queue and
worker forms, and `relay queue ...` / `relay terminate` all call these functions.

Only Redis and RabbitMQ are needed: the audit record is written after the action, and
the CLI's trail logs it as not stored when Postgres is away rather than waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from common.control import PausedQueue, QueueControl, is_work_queue
from common.lifecycle import LifecycleStore
from common.publisher import Publisher
from common.settings import RuntimeSettings
from redis.asyncio import Redis

from .actor import Actor, AuditTrail, record

PAUSE = "queue.pause"
CONTINUE = "queue.continue"
CLEAR = "queue.clear"
TERMINATE = "workers.terminate"


class ControlAccess(Protocol):
    """What queue control needs: Redis (the state), the publisher (the broadcast, purges)."""

    @property
    def settings(self) -> RuntimeSettings: ...
    @property
    def redis(self) -> Redis: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def audit(self) -> AuditTrail: ...


class NotAWorkQueue(ValueError):
    """A retry tier or parked queue was named: workers consume only work queues."""


@dataclass(frozen=True)
class Termination:
    request: str  # the terminate request's id
    workers: int  # workers alive when it was sent


def require_work_queue(queue: str) -> str:
    """`queue` when workers consume it; NotAWorkQueue for a retry tier or parked queue."""
    if not is_work_queue(queue):
        work = queue.split(".retry.")[0].removesuffix(".parked")
        raise NotAWorkQueue(
            f"{queue} is a retry tier or parked queue, not consumed by workers; "
            f"name its work queue ({work})"
        )
    return queue


def _control(runtime: ControlAccess) -> QueueControl:
    return QueueControl(runtime.redis, runtime.publisher, runtime.settings)


async def pause(runtime: ControlAccess, actor: Actor, queue: str) -> PausedQueue:
    """Every worker stops taking jobs from `queue`; running jobs finish, the rest wait.
    NotFound when RabbitMQ has no such queue."""
    paused = await _control(runtime).pause(require_work_queue(queue), by=actor.id)
    await record(runtime.audit, actor, PAUSE, queue)
    return paused


async def resume(runtime: ControlAccess, actor: Actor, queue: str) -> bool:
    """Every worker takes jobs from `queue` again; False when it was not paused."""
    was_paused = await _control(runtime).resume(require_work_queue(queue))
    await record(runtime.audit, actor, CONTINUE, queue)
    return was_paused


async def clear(
    runtime: ControlAccess, actor: Actor, queue: str, *, tiers: bool = False
) -> dict[str, int]:
    """Delete the jobs waiting in `queue` (and its retry tiers): removed, per queue.
    Running jobs finish. httpx.HTTPError when `tiers` and the management API is away."""
    removed = await _control(runtime).clear(require_work_queue(queue), tiers=tiers)
    total = sum(removed.values())
    await record(runtime.audit, actor, CLEAR, queue, removed=total, queues=removed)
    return removed


async def terminate(runtime: ControlAccess, actor: Actor) -> Termination:
    """Every worker finishes its running jobs and exits; its process manager restarts it
    on the deployed code."""
    request = await _control(runtime).terminate()
    workers = await LifecycleStore(runtime.redis, runtime.settings).workers()
    await record(runtime.audit, actor, TERMINATE, "workers")
    return Termination(request, len(workers))
