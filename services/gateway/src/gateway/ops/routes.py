"""The ops API (admin keys): queues and the failed-job runbook.

Parked messages (`<queue>.parked`) are listed and retried with the failed jobs: listing or
retrying them all first moves every parked message into the failed-job store.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from common.control import paused_queues
from common.dead_letters import FailedJob
from common.web import AdminUser, RuntimeDep
from fastapi import APIRouter, HTTPException, Query, Request, Response

from ..domains import queue_sections
from .admin_actions import record_admin_action, request_origin
from .audit import router as audit_router
from .control import router as control_router
from .jobs import router as jobs_router
from .keys import router as keys_router
from .queues import QueueStats, mark_paused, queue_stats, unpark

router = APIRouter(prefix="/v1/ops", tags=["ops"])
router.include_router(control_router)
router.include_router(jobs_router)
router.include_router(keys_router)
router.include_router(audit_router)


@router.get("/queues")
async def queues(admin: AdminUser, runtime: RuntimeDep) -> dict[str, Any]:
    try:
        stats: list[QueueStats] = await queue_stats(runtime.settings)
    except httpx.HTTPError as error:
        raise HTTPException(
            503,
            f"RabbitMQ management API unreachable ({error}); is the management plugin enabled?",
            headers={"Retry-After": "5"},
        ) from error
    mark_paused(stats, await paused_queues(runtime.redis, runtime.settings.redis_key_prefix))
    answer: dict[str, Any] = {"queues": [s.model_dump() for s in stats]}
    for name, section in queue_sections().items():
        answer[name] = await section(runtime)
    return answer


@router.get("/failed")
async def failed_list(
    admin: AdminUser,
    runtime: RuntimeDep,
    queue: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=2**63 - 1),
) -> list[FailedJob]:
    await unpark(runtime.settings, runtime.failed_jobs, runtime.publisher)
    return await runtime.failed_jobs.list(queue, limit, offset)


@router.get("/failed/{failed_id}")
async def failed_show(admin: AdminUser, runtime: RuntimeDep, failed_id: uuid.UUID) -> FailedJob:
    return await runtime.failed_jobs.get(failed_id)


@router.get("/failed/{failed_id}/body", response_class=Response)
async def failed_body(admin: AdminUser, runtime: RuntimeDep, failed_id: uuid.UUID) -> Response:
    """The failed job's exact bytes, as they were delivered (`payload` only previews them)."""
    body = await runtime.failed_jobs.body(failed_id)
    return Response(body, media_type="application/octet-stream")


@router.post("/failed/retry", status_code=202)
async def failed_retry_all(
    admin: AdminUser, runtime: RuntimeDep, request: Request, queue: str | None = None
) -> dict[str, int]:
    await unpark(runtime.settings, runtime.failed_jobs, runtime.publisher)
    retried = await runtime.failed_jobs.retry_all(runtime.publisher, queue)
    await record_admin_action(
        runtime, admin, "failed.retry_all", queue or "*", request_origin(request), retried=retried
    )
    return {"retried": retried}


@router.post("/failed/{failed_id}/retry", status_code=202)
async def failed_retry(
    admin: AdminUser, runtime: RuntimeDep, request: Request, failed_id: uuid.UUID
) -> dict[str, Any]:
    await runtime.failed_jobs.retry(failed_id, runtime.publisher)
    await record_admin_action(
        runtime, admin, "failed.retry", str(failed_id), request_origin(request)
    )
    return {"id": str(failed_id), "status": "queued"}


@router.delete("/failed/{failed_id}", status_code=204)
async def failed_forget(
    admin: AdminUser, runtime: RuntimeDep, request: Request, failed_id: uuid.UUID
) -> Response:
    await runtime.failed_jobs.forget(failed_id)
    await record_admin_action(
        runtime, admin, "failed.forget", str(failed_id), request_origin(request)
    )
    return Response(status_code=204)


@router.delete("/failed")
async def failed_flush(
    admin: AdminUser, runtime: RuntimeDep, request: Request, queue: str | None = None
) -> dict[str, int]:
    flushed = await runtime.failed_jobs.flush(queue)
    await record_admin_action(
        runtime, admin, "failed.flush", queue or "*", request_origin(request), flushed=flushed
    )
    return {"flushed": flushed}
