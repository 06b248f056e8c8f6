"""The ops API (admin keys): queues and the failed-job runbook. Each action is one
function of `gateway.admin`, shared with the dashboard and `relay`; these routes read the
request, call it and answer."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from common.dead_letters import FailedJob
from common.web import AdminUser, RuntimeDep
from fastapi import APIRouter, HTTPException, Query, Response

from ..admin import failed_jobs
from ..admin.queue_stats import queue_overview
from ..deps import AdminActor
from ..domains import queue_sections
from .audit import router as audit_router
from .control import router as control_router
from .jobs import router as jobs_router
from .keys import router as keys_router

router = APIRouter(prefix="/v1/ops", tags=["ops"])
router.include_router(control_router)
router.include_router(jobs_router)
router.include_router(keys_router)
router.include_router(audit_router)


@router.get("/queues")
async def queues(admin: AdminUser, runtime: RuntimeDep) -> dict[str, Any]:
    try:
        stats = await queue_overview(runtime)
    except httpx.HTTPError as error:
        raise HTTPException(
            503,
            f"RabbitMQ management API unreachable ({error}); is the management plugin enabled?",
            headers={"Retry-After": "5"},
        ) from error
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
    """Failed jobs, newest first; parked messages are moved in first and listed with them."""
    return (await failed_jobs.list_failed(runtime, queue, limit, offset)).jobs


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
    actor: AdminActor, runtime: RuntimeDep, queue: str | None = None
) -> dict[str, int]:
    """Every failed job (of `queue`), parked ones included, back onto its queue."""
    done = await failed_jobs.retry_all(runtime, actor, queue)
    return {"retried": done.retried}


@router.post("/failed/{failed_id}/retry", status_code=202)
async def failed_retry(
    actor: AdminActor, runtime: RuntimeDep, failed_id: uuid.UUID
) -> dict[str, Any]:
    await failed_jobs.retry(runtime, actor, failed_id)
    return {"id": str(failed_id), "status": "queued"}


@router.delete("/failed/{failed_id}", status_code=204)
async def failed_forget(actor: AdminActor, runtime: RuntimeDep, failed_id: uuid.UUID) -> Response:
    await failed_jobs.forget(runtime, actor, failed_id)
    return Response(status_code=204)


@router.delete("/failed")
async def failed_flush(
    actor: AdminActor, runtime: RuntimeDep, queue: str | None = None
) -> dict[str, int]:
    return {"flushed": await failed_jobs.flush(runtime, actor, queue)}
