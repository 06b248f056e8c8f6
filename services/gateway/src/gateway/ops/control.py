"""Queue control in the ops API: pause, continue, clear a queue; terminate every worker.

`POST /v1/ops/queues/{queue}/pause` | `/continue`, `DELETE /v1/ops/queues/{queue}/jobs`
and `POST /v1/ops/workers/terminate` (Horizon's pause / continue / terminate and
Laravel's `queue:clear`), each one function of `gateway.admin.queues`, which records it
in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from common.web import RuntimeDep
from fastapi import APIRouter, HTTPException, Path, Query

from ..admin import queues
from ..deps import AdminActor

router = APIRouter()

# What RabbitMQ accepts as a queue name (AMQP 0-9-1 shortstr, as pamqp checks it).
QueueName = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[a-zA-Z0-9_.:@#,+ -]+$")]


def work_queue(queue: str) -> str:
    """`queue` when workers consume it; a retry tier or parked queue is a 422."""
    try:
        return queues.require_work_queue(queue)
    except queues.NotAWorkQueue as wrong:
        raise HTTPException(422, f"queue: {wrong}") from wrong


def tiers_unlisted(error: httpx.HTTPError, advice: str) -> HTTPException:
    """503 for a clear with --tiers while the management API is out of reach."""
    return HTTPException(
        503,
        f"RabbitMQ management API unreachable ({error}){advice}",
        headers={"Retry-After": "5"},
    )


@router.post("/queues/{queue}/pause")
async def pause_queue(queue: QueueName, actor: AdminActor, runtime: RuntimeDep) -> dict[str, Any]:
    """Every worker stops taking jobs from `queue`; running jobs finish, the rest wait."""
    paused = await queues.pause(runtime, actor, work_queue(queue))
    return {"queue": queue, "paused": True, "at": paused.at, "by": paused.by}


@router.post("/queues/{queue}/continue")
async def continue_queue(
    queue: QueueName, actor: AdminActor, runtime: RuntimeDep
) -> dict[str, Any]:
    """Every worker takes jobs from `queue` again."""
    was_paused = await queues.resume(runtime, actor, work_queue(queue))
    return {"queue": queue, "paused": False, "was_paused": was_paused}


@router.delete("/queues/{queue}/jobs")
async def clear_queue(
    queue: QueueName,
    actor: AdminActor,
    runtime: RuntimeDep,
    tiers: bool = Query(False, description="Also empty the queue's retry tiers"),
) -> dict[str, Any]:
    """Delete the jobs waiting in `queue` (and its retry tiers); running jobs finish."""
    try:
        removed = await queues.clear(runtime, actor, work_queue(queue), tiers=tiers)
    except httpx.HTTPError as error:
        raise tiers_unlisted(
            error, "; the retry tiers cannot be listed: retry, or clear without tiers"
        ) from error
    return {"queue": queue, "removed": sum(removed.values()), "by_queue": removed}


@router.post("/workers/terminate", status_code=202)
async def terminate_workers(actor: AdminActor, runtime: RuntimeDep) -> dict[str, Any]:
    """Every worker finishes its running jobs and exits; its process manager restarts it."""
    termination = await queues.terminate(runtime, actor)
    return {"status": "terminating", "request": termination.request, "workers": termination.workers}
