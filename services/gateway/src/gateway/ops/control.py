"""Queue control in the ops API: pause, continue, clear a queue; terminate every worker.

`POST /v1/ops/queues/{queue}/pause` | `/continue`, `DELETE /v1/ops/queues/{queue}/jobs`
and `POST /v1/ops/workers/terminate` (Horizon's pause / continue / terminate and
Laravel's `queue:clear`). Every action is recorded in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from common.control import QueueControl, is_work_queue
from common.lifecycle import LifecycleStore
from common.runtime import Runtime
from common.web import AdminUser, RuntimeDep
from fastapi import APIRouter, HTTPException, Path, Query, Request

from .admin_actions import record_admin_action, request_origin

router = APIRouter()

# What RabbitMQ accepts as a queue name (AMQP 0-9-1 shortstr, as pamqp checks it).
QueueName = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9_.:@#,+ -]+$")]


def queue_control(runtime: Runtime) -> QueueControl:
    return QueueControl(runtime.redis, runtime.publisher, runtime.settings)


def work_queue(queue: str) -> str:
    """`queue` when workers consume it; a retry tier or parked queue is a 422."""
    if not is_work_queue(queue):
        raise HTTPException(
            422,
            f"queue: {queue} is a retry tier or parked queue, not consumed by workers; "
            f"name its work queue ({queue.split('.retry.')[0].removesuffix('.parked')})",
        )
    return queue


@router.post("/queues/{queue}/pause")
async def pause_queue(
    queue: QueueName, admin: AdminUser, runtime: RuntimeDep, request: Request
) -> dict[str, Any]:
    """Every worker stops taking jobs from `queue`; running jobs finish, the rest wait."""
    paused = await queue_control(runtime).pause(work_queue(queue), by=admin.id)
    await record_admin_action(runtime, admin, "queue.pause", queue, request_origin(request))
    return {"queue": queue, "paused": True, "at": paused.at, "by": paused.by}


@router.post("/queues/{queue}/continue")
async def continue_queue(
    queue: QueueName, admin: AdminUser, runtime: RuntimeDep, request: Request
) -> dict[str, Any]:
    """Every worker takes jobs from `queue` again."""
    was_paused = await queue_control(runtime).resume(work_queue(queue))
    await record_admin_action(runtime, admin, "queue.continue", queue, request_origin(request))
    return {"queue": queue, "paused": False, "was_paused": was_paused}


@router.delete("/queues/{queue}/jobs")
async def clear_queue(
    queue: QueueName,
    admin: AdminUser,
    runtime: RuntimeDep,
    request: Request,
    tiers: bool = Query(False, description="Also empty the queue's retry tiers"),
) -> dict[str, Any]:
    """Delete the jobs waiting in `queue` (and its retry tiers); running jobs finish."""
    try:
        removed = await queue_control(runtime).clear(work_queue(queue), tiers=tiers)
    except httpx.HTTPError as error:
        raise HTTPException(
            503,
            f"RabbitMQ management API unreachable ({error}); the retry tiers cannot be "
            "listed: retry, or clear without tiers",
            headers={"Retry-After": "5"},
        ) from error
    total = sum(removed.values())
    await record_admin_action(
        runtime, admin, "queue.clear", queue, request_origin(request), removed=total, queues=removed
    )
    return {"queue": queue, "removed": total, "by_queue": removed}


@router.post("/workers/terminate", status_code=202)
async def terminate_workers(
    admin: AdminUser, runtime: RuntimeDep, request: Request
) -> dict[str, Any]:
    """Every worker finishes its running jobs and exits; its process manager restarts it."""
    request_id = await queue_control(runtime).terminate()
    workers = await LifecycleStore(runtime.redis, runtime.settings).workers()
    await record_admin_action(
        runtime, admin, "workers.terminate", "workers", request_origin(request)
    )
    return {"status": "terminating", "request": request_id, "workers": len(workers)}
