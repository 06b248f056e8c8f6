"""Who may use the dashboard: the session behind the cookie, and the CSRF token of a form."""

from __future__ import annotations

from typing import Annotated

from common.runtime import Runtime
from fastapi import Cookie, HTTPException
from fastapi.responses import RedirectResponse

from ..auth.keys import KeyStore
from .session import COOKIE, Session, Sessions, csrf_ok

SessionCookie = Annotated[str | None, Cookie(alias=COOKIE)]


def sessions(runtime: Runtime) -> Sessions:
    return Sessions(runtime.redis, runtime.settings.redis_key_prefix)


async def session_of(runtime: Runtime, session_id: str | None) -> Session | None:
    """The live session behind the cookie; a session whose stored key was revoked or has
    expired since the log-in is ended."""
    session = await sessions(runtime).get(session_id)
    if (
        session is not None
        and session.key_id is not None
        and not await KeyStore(runtime.pool).active(session.key_id)
    ):
        await sessions(runtime).end(session_id)
        return None
    return session


def to_login() -> RedirectResponse:
    return RedirectResponse("/dashboard/login", status_code=303)


async def authorised(runtime: Runtime, session_id: str | None, csrf: str | None) -> Session:
    """The session of a form post whose CSRF token matches; 401 / 403 otherwise."""
    session = await session_of(runtime, session_id)
    if session is None:
        raise HTTPException(401, "log in at /dashboard/login")
    if not csrf_ok(session, csrf):
        raise HTTPException(403, "the form is stale; reload the dashboard")
    return session
