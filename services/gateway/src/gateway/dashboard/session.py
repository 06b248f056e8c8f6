"""Dashboard log-in sessions: a random id in an HttpOnly cookie, the session in Redis.

The admin key is posted once by the log-in form and never stored in the browser or put
in a URL; the cookie holds only a random session id (SameSite=Strict, so other sites
cannot make the browser use it). Each session has a CSRF token that every dashboard
form posts back. Sessions live in Redis so any gateway replica can serve the page.
"""

from __future__ import annotations

import hmac
import secrets

from pydantic import BaseModel
from redis.asyncio import Redis

COOKIE = "relay_dashboard"
SESSION_SECONDS = 12 * 3600


class Session(BaseModel):
    user_id: str
    csrf: str
    # The stored key that logged in (None for an ADMIN_API_KEYS key): revoking or
    # expiring it ends the session too.
    key_id: str | None = None


class Sessions:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.base = f"{prefix}dashboard:session:"

    async def create(self, user_id: str, key_id: str | None = None) -> str:
        session_id = secrets.token_urlsafe(32)
        session = Session(user_id=user_id, csrf=secrets.token_urlsafe(24), key_id=key_id)
        await self.redis.set(self.base + session_id, session.model_dump_json(), ex=SESSION_SECONDS)
        return session_id

    async def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        raw = await self.redis.get(self.base + session_id)
        return None if raw is None else Session.model_validate_json(raw)

    async def end(self, session_id: str | None) -> None:
        if session_id:
            await self.redis.delete(self.base + session_id)


def csrf_ok(session: Session, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf, token)
