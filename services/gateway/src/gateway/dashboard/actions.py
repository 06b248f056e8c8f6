"""The dashboard's forms: retry, forget, retry every failed job; pause, continue, clear a
queue; restart every worker; pin or unpin a tag; a domain panel's buttons. Each posts the
session's CSRF token and calls the same `gateway.admin` function as the ops API and
`relay`, which records it in the audit log; then the page is shown again."""

from __future__ import annotations

import uuid
from typing import Annotated

import httpx
from common.web import RuntimeDep, client_address
from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ..admin import failed_jobs, panels, queues, tags
from ..admin.actor import Actor
from ..ops.control import QueueName, tiers_unlisted, work_queue
from ..ops.jobs import TagToMonitor
from .guard import SessionCookie, authorised

router = APIRouter()


async def form_actor(
    request: Request,
    runtime: RuntimeDep,
    csrf: Annotated[str | None, Form()] = None,
    session_id: SessionCookie = None,
) -> Actor:
    """The logged-in admin posting a form with the session's CSRF token; 401 / 403 otherwise."""
    session = await authorised(runtime, session_id, csrf)
    return Actor(session.user_id, client_address(request))


# Resolved before the form's own fields are read: an unauthorised post learns nothing.
DashboardAdmin = Annotated[Actor, Depends(form_actor)]


def _back(section: str) -> Response:
    return RedirectResponse(f"/dashboard#{section}", status_code=303)


@router.post("/failed/retry")
async def retry_all(
    actor: DashboardAdmin, runtime: RuntimeDep, queue: Annotated[str | None, Form()] = None
) -> Response:
    await failed_jobs.retry_all(runtime, actor, queue or None)
    return _back("failed")


@router.post("/failed/{failed_id}/retry")
async def retry(actor: DashboardAdmin, runtime: RuntimeDep, failed_id: uuid.UUID) -> Response:
    await failed_jobs.retry(runtime, actor, failed_id)
    return _back("failed")


@router.post("/failed/{failed_id}/forget")
async def forget(actor: DashboardAdmin, runtime: RuntimeDep, failed_id: uuid.UUID) -> Response:
    await failed_jobs.forget(runtime, actor, failed_id)
    return _back("failed")


@router.post("/queues/{queue}/pause")
async def pause(queue: QueueName, actor: DashboardAdmin, runtime: RuntimeDep) -> Response:
    await queues.pause(runtime, actor, work_queue(queue))
    return _back("queues")


@router.post("/queues/{queue}/continue")
async def resume(queue: QueueName, actor: DashboardAdmin, runtime: RuntimeDep) -> Response:
    await queues.resume(runtime, actor, work_queue(queue))
    return _back("queues")


@router.post("/queues/{queue}/clear")
async def clear(
    queue: QueueName,
    actor: DashboardAdmin,
    runtime: RuntimeDep,
    tiers: Annotated[bool, Form()] = False,
) -> Response:
    try:
        await queues.clear(runtime, actor, work_queue(queue), tiers=tiers)
    except httpx.HTTPError as error:
        raise tiers_unlisted(error, ": the retry tiers cannot be listed") from error
    return _back("queues")


@router.post("/workers/terminate")
async def terminate(actor: DashboardAdmin, runtime: RuntimeDep) -> Response:
    await queues.terminate(runtime, actor)
    return _back("workers")


@router.post("/tags")
async def monitor(
    actor: DashboardAdmin, runtime: RuntimeDep, tag: Annotated[str, Form(max_length=200)]
) -> Response:
    try:
        wanted = TagToMonitor(tag=tag.strip())
    except ValidationError as invalid:
        raise HTTPException(422, f"tag: {invalid.errors()[0]['msg']}") from invalid
    await tags.monitor(runtime, actor, wanted.tag)
    return _back("monitored")


@router.post("/tags/stop")
async def stop_monitoring(
    actor: DashboardAdmin, runtime: RuntimeDep, tag: Annotated[str, Form(max_length=200)]
) -> Response:
    await tags.stop_monitoring(runtime, actor, tag)  # already unpinned: nothing to do
    return _back("monitored")


@router.post("/panels/{panel}/{item}/{verb}")
async def panel_action(
    panel: str, item: str, verb: str, actor: DashboardAdmin, runtime: RuntimeDep
) -> Response:
    """A domain panel's button (pause a campaign...): the domain decides what it does."""
    try:
        await panels.press(runtime, actor, panel, item, verb)
    except ValueError as invalid:
        raise HTTPException(422, str(invalid)) from invalid
    return _back(panel)
