"""GET /dashboard: a Horizon-style page, server-rendered, updated live over SSE.

The page is Jinja2 templates; one small vanilla script (static/dashboard.js) opens an
EventSource on /dashboard/stream and swaps in the sections the server re-renders every
DASHBOARD_REFRESH_SECONDS. No build step, no CDN. Here: the log-in, the pages and the
stream; the forms that act (retry, pause, clear...) are in actions.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from common.dead_letters import FailedJob
from common.ratelimit import Rate
from common.web import RuntimeDep, client_address
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.templating import Jinja2Templates

from ..admin import logins
from ..admin.actor import Actor
from ..auth.keys import KeyRing
from ..domains import dashboard_panels
from ..ops.job_details import job_details
from ..settings import GatewaySettings
from .actions import router as actions_router
from .charts import charts
from .data import Snapshot, snapshot
from .guard import SessionCookie, session_of, sessions, to_login
from .session import COOKIE, SESSION_SECONDS
from .settings import dashboard_settings

PACKAGE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=PACKAGE / "templates")
templates.env.filters["clock"] = lambda ts: time.strftime("%H:%M:%S", time.localtime(float(ts)))
STATIC = PACKAGE / "static"
STATIC_FILES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
# The runtime's sections, then each domain's panels (a template of the same name each).
SECTIONS = (
    "queues",
    "workers",
    "charts",
    "recent",
    "monitored",
    "failed",
    *dashboard_panels(),
    "alerts",
    "audit",
)

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
router.include_router(actions_router)


def render_sections(snap: Snapshot, csrf: str, query: str) -> dict[str, str]:
    """Each section's HTML, as the page and the live stream show it."""
    context = {"s": snap, "csrf": csrf, "q": query, "charts": charts(snap.minutes)}
    return {
        name: templates.get_template(f"dashboard/sections/{name}.html").render(context)
        for name in SECTIONS
    }


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "dashboard/login.html", {"error": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, runtime: RuntimeDep, key: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    client = client_address(request)
    await runtime.limiter.check(
        f"dashboard-login:{client}", Rate(dashboard_settings().dashboard_logins_per_minute, 60)
    )
    keys: KeyRing = request.app.state.keys
    user = await keys.resolve(key.strip()) if key.strip() else None
    if user is None or not user.admin:
        error = "unknown key" if user is None else "this key is not an admin key"
        refused = Actor(user.id, client, user.key_id) if user else Actor("unknown", client)
        await logins.login_refused(runtime.audit, refused, error)
        return templates.TemplateResponse(
            request,
            "dashboard/login.html",
            {"error": error},
            status_code=401 if user is None else 403,
        )
    stored_key = user.key_id if user.key_id != "env" else None
    session_id = await sessions(runtime).create(user.id, stored_key)
    await logins.logged_in(runtime.audit, Actor(user.id, client, user.key_id))
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=SESSION_SECONDS,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=dashboard_settings().dashboard_cookie_secure or request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(runtime: RuntimeDep, session_id: SessionCookie = None) -> Response:
    await sessions(runtime).end(session_id)
    response = to_login()
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


@router.get("", response_class=HTMLResponse)
async def page(
    request: Request, runtime: RuntimeDep, q: str = "", session_id: SessionCookie = None
) -> Response:
    session = await session_of(runtime, session_id)
    if session is None:
        return to_login()
    snap = await snapshot(runtime, dashboard_panels(), q)
    return templates.TemplateResponse(
        request,
        "dashboard/page.html",
        {
            "sections": render_sections(snap, session.csrf, q),
            "names": SECTIONS,
            "q": q,
            "csrf": session.csrf,
            "user": session.user_id,
            "refresh": dashboard_settings().dashboard_refresh_seconds,
        },
    )


@router.get("/sections")
async def sections(
    runtime: RuntimeDep, q: str = "", session_id: SessionCookie = None
) -> dict[str, str]:
    """The sections as JSON (what the stream pushes; also for polling clients)."""
    session = await session_of(runtime, session_id)
    if session is None:
        raise HTTPException(401, "log in at /dashboard/login")
    return render_sections(await snapshot(runtime, dashboard_panels(), q), session.csrf, q)


@router.get("/stream")
async def stream(
    request: Request, runtime: RuntimeDep, q: str = "", session_id: SessionCookie = None
) -> Response:
    session = await session_of(runtime, session_id)
    if session is None:
        raise HTTPException(401, "log in at /dashboard/login")
    interval = dashboard_settings().dashboard_refresh_seconds

    async def events() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        while not await request.is_disconnected():
            current = await session_of(runtime, session_id)
            if current is None:
                yield "event: logout\ndata: {}\n\n"
                return
            rendered = render_sections(
                await snapshot(runtime, dashboard_panels(), q), current.csrf, q
            )
            yield f"event: sections\ndata: {json.dumps(rendered)}\n\n"
            await asyncio.sleep(interval)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/failed/{failed_id}", response_class=HTMLResponse)
async def failed_job(
    request: Request, runtime: RuntimeDep, failed_id: uuid.UUID, session_id: SessionCookie = None
) -> Response:
    session = await session_of(runtime, session_id)
    if session is None:
        return to_login()
    job: FailedJob = await runtime.failed_jobs.get(failed_id)
    return templates.TemplateResponse(
        request,
        "dashboard/failed_job.html",
        {
            "job": job,
            # A preview is text already (binary, long or not UTF-8 bodies, shown escaped).
            "payload": job.payload if job.preview else json.dumps(job.payload, indent=2),
            "headers": json.dumps(job.headers, indent=2, default=str),
            "csrf": session.csrf,
        },
    )


@router.get("/jobs/{message_id}", response_class=HTMLResponse)
async def job_record(
    request: Request, runtime: RuntimeDep, message_id: str, session_id: SessionCookie = None
) -> Response:
    session = await session_of(runtime, session_id)
    if session is None:
        return to_login()
    settings: GatewaySettings = request.app.state.settings
    details = await job_details(runtime, message_id, settings.jaeger_ui_url)
    if details is None:
        raise HTTPException(404, f"no record of job {message_id} (kept for the retention window)")
    return templates.TemplateResponse(
        request,
        "dashboard/job.html",
        {"d": details, "job": details.record, "csrf": session.csrf},
    )


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(404, "no such file")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name])
