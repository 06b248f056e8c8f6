"""What a domain's HTTP router needs from the process serving it, as FastAPI dependencies.

The gateway (the edge) authenticates callers and holds the runtime; a domain's router
only asks for them through these `Annotated` aliases, so it never imports the gateway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from .publisher import Publisher
from .ratelimit import RateLimiter
from .runtime import Runtime

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the user a key acts for, and whether it may use the ops API."""

    id: str
    admin: bool = False


Authenticator = Callable[[str], Awaitable[Caller | None]]
# An extra section of an ops answer or dashboard page, computed from the runtime.
Section = Callable[[Runtime], Awaitable[Any]]
# A button of a dashboard panel: (runtime, the row's id, the verb) -> done. Raises
# NotFound / Conflict / ValueError like a route would.
PanelAction = Callable[[Runtime, str, str], Awaitable[None]]


@dataclass(frozen=True)
class DomainApi:
    """A domain's HTTP surface as the gateway mounts it."""

    router: APIRouter
    # Extra keys of GET /v1/ops/queues (e.g. circuit breakers, the schedule).
    queue_sections: Mapping[str, Section] = field(default_factory=dict)
    # Extra panels of the dashboard, by the name of their template.
    dashboard_panels: Mapping[str, Section] = field(default_factory=dict)
    # The buttons of those panels, by panel name (POST /dashboard/panels/{panel}/{id}/{verb}).
    dashboard_actions: Mapping[str, PanelAction] = field(default_factory=dict)


# Dependencies are `async def` even when they only read an attribute: FastAPI runs a plain
# `def` dependency in its thread pool, a hop per dependency per request that showed up as
# tens of milliseconds of p99 on the hottest POST.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_db(runtime: RuntimeDep) -> asyncpg.Pool:
    return runtime.pool


async def get_publisher(runtime: RuntimeDep) -> Publisher:
    return runtime.publisher


async def get_redis(runtime: RuntimeDep) -> Redis:
    return runtime.redis


async def get_limiter(runtime: RuntimeDep) -> RateLimiter:
    return runtime.limiter


Db = Annotated[asyncpg.Pool, Depends(get_db)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
RedisDep = Annotated[Redis, Depends(get_redis)]
Limiter = Annotated[RateLimiter, Depends(get_limiter)]


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller named by `Authorization: Bearer <key>`, resolved by the serving app."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    authenticate: Authenticator = request.app.state.authenticate
    caller = await authenticate(credentials.credentials)
    if caller is None:
        raise HTTPException(
            401,
            "unknown API key: create one with `relay keys create --user <id>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


CurrentUser = Annotated[Caller, Depends(current_user)]


async def admin_user(user: CurrentUser) -> Caller:
    if not user.admin:
        raise HTTPException(403, "this endpoint needs an admin key (ADMIN_API_KEYS or --admin)")
    return user


AdminUser = Annotated[Caller, Depends(admin_user)]
