"""The dashboard's queue-control and monitoring forms: pause, continue, clear a queue,
restart every worker, pin or unpin a tag. Each posts the session's CSRF token and is
recorded in the audit log like the same action through the ops API."""

from __future__ import annotations

from typing import Annotated

import httpx
from common.lifecycle import LifecycleStore
from common.web import RuntimeDep
from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ..domains import dashboard_actions
from ..ops.admin_actions import record_admin_action, request_origin
from ..ops.control import QueueName, queue_control, work_queue
from ..ops.jobs import TagToMonitor
from .guard import SessionCookie, authorised

router = APIRouter()

Csrf = Annotated[str | None, Form()]


def _back(section: str) -> Response:
    return RedirectResponse(f"/dashboard#{section}", status_code=303)


@router.post("/queues/{queue}/pause")
async def pause(
    queue: QueueName,
    request: Request,
    runtime: RuntimeDep,
    csrf: Csrf = None,
    session_id: SessionCookie = None,
) -> Response:
    session = await authorised(runtime, session_id, csrf)
    await queue_control(runtime).pause(work_queue(queue), by=session.user_id)
    await record_admin_action(
        runtime, session.user_id, "queue.pause", queue, request_origin(request)
    )
    return _back("queues")


@router.post("/queues/{queue}/continue")
async def resume(
    queue: QueueName,
    request: Request,
    runtime: RuntimeDep,
    csrf: Csrf = None,
    session_id: SessionCookie = None,
) -> Response:
    session = await authorised(runtime, session_id, csrf)
    await queue_control(runtime).resume(work_queue(queue))
    await record_admin_action(
        runtime, session.user_id, "queue.continue", queue, request_origin(request)
    )
    return _back("queues")


@router.post("/queues/{queue}/clear")
async def clear(
    queue: QueueName,
    request: Request,
    runtime: RuntimeDep,
    csrf: Csrf = None,
    tiers: Annotated[bool, Form()] = False,
    session_id: SessionCookie = None,
) -> Response:
    session = await authorised(runtime, session_id, csrf)
    try:
        removed = await queue_control(runtime).clear(work_queue(queue), tiers=tiers)
    except httpx.HTTPError as error:
        raise HTTPException(
            503,
            f"RabbitMQ management API unreachable ({error}): the retry tiers cannot be listed",
            headers={"Retry-After": "5"},
        ) from error
    total = sum(removed.values())
    await record_admin_action(
        runtime,
        session.user_id,
        "queue.clear",
        queue,
        request_origin(request),
        removed=total,
        queues=removed,
    )
    return _back("queues")


@router.post("/workers/terminate")
async def terminate(
    request: Request, runtime: RuntimeDep, csrf: Csrf = None, session_id: SessionCookie = None
) -> Response:
    session = await authorised(runtime, session_id, csrf)
    await queue_control(runtime).terminate()
    await record_admin_action(
        runtime, session.user_id, "workers.terminate", "workers", request_origin(request)
    )
    return _back("workers")


@router.post("/tags")
async def monitor(
    request: Request,
    runtime: RuntimeDep,
    tag: Annotated[str, Form(max_length=200)],
    csrf: Csrf = None,
    session_id: SessionCookie = None,
) -> Response:
    session = await authorised(runtime, session_id, csrf)
    try:
        wanted = TagToMonitor(tag=tag.strip())
    except ValidationError as invalid:
        raise HTTPException(422, f"tag: {invalid.errors()[0]['msg']}") from invalid
    await LifecycleStore(runtime.redis, runtime.settings).monitor(wanted.tag)
    await record_admin_action(
        runtime, session.user_id, "tag.monitor", wanted.tag, request_origin(request)
    )
    return _back("monitored")


@router.post("/tags/stop")
async def stop_monitoring(
    request: Request,
    runtime: RuntimeDep,
    tag: Annotated[str, Form(max_length=200)],
    csrf: Csrf = None,
    session_id: SessionCookie = None,
) -> Response:
    session = await authorised(runtime, session_id, csrf)
    await LifecycleStore(runtime.redis, runtime.settings).stop_monitoring(tag)
    await record_admin_action(
        runtime, session.user_id, "tag.stop_monitoring", tag, request_origin(request)
    )
    return _back("monitored")


@router.post("/panels/{panel}/{item}/{verb}")
async def panel_action(
    panel: str,
    item: str,
    verb: str,
    request: Request,
    runtime: RuntimeDep,
    csrf: Csrf = None,
    session_id: SessionCookie = None,
) -> Response:
    """A domain panel's button (pause a campaign...): the domain decides what it does."""
    session = await authorised(runtime, session_id, csrf)
    action = dashboard_actions().get(panel)
    if action is None:
        raise HTTPException(404, f"no dashboard panel {panel!r} with actions")
    try:
        await action(runtime, item, verb)
    except ValueError as invalid:
        raise HTTPException(422, str(invalid)) from invalid
    await record_admin_action(
        runtime, session.user_id, f"{panel}.{verb}", item, request_origin(request)
    )
    return _back(panel)
