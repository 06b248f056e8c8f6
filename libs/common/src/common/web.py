"""What a domain's HTTP router needs from the process serving it, as FastAPI dependencies.

The gateway (the edge) authenticates callers and holds the runtime; a domain's router
only asks for them through these `Annotated` aliases, so it never imports the gateway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from .publisher import Publisher
from .ratelimit import RateLimiter
from .runtime import Runtime

_bearer = HTTPBearer(auto_error=False)


Scope = Literal["user", "service", "admin"]
SCOPES: tuple[Scope, ...] = ("user", "service", "admin")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the user a key acts for, the key's scope and the key's id.

    `user` acts for its own user only; `service` (a backend) may act for any user but
    not use the ops API; `admin` may do both, and manage keys and the dashboard.
    """

    id: str
    scope: Scope = "user"
    key_id: str | None = None

    @property
    def admin(self) -> bool:
        return self.scope == "admin"

    def may_act_for(self, user_id: str) -> bool:
        """Whether this caller may do something on behalf of `user_id`."""
        return self.scope != "user" or user_id == self.id


# Resolves a presented key, from a client address, to its caller (None: unknown key).
Authenticator = Callable[[str, str], Awaitable[Caller | None]]
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


def client_address(request: Request) -> str:
    """Where a request came from: the client's address, as the server saw it or, behind a
    proxy the server trusts (FORWARDED_ALLOW_IPS), as the proxy's X-Forwarded-For says."""
    return request.client.host if request.client else "unknown"


def refuse_unless_acting_for(caller: Caller, user_id: str) -> None:
    """403 when a user key tries to act for another user (service and admin keys may)."""
    if not caller.may_act_for(user_id):
        raise HTTPException(
            403,
            f"user_id: this key acts for {caller.id!r} only; a service key may act for any user",
        )


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
    caller = await authenticate(credentials.credentials, client_address(request))
    if caller is None:
        raise HTTPException(
            401,
            "unknown, expired or revoked API key: create one with `relay keys create --user <id>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


CurrentUser = Annotated[Caller, Depends(current_user)]


async def admin_user(user: CurrentUser) -> Caller:
    if not user.admin:
        raise HTTPException(
            403, "this endpoint needs an admin key (ADMIN_API_KEYS or --scope admin)"
        )
    return user


AdminUser = Annotated[Caller, Depends(admin_user)]
