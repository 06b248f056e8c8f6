"""Dependencies shared by the routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from common.publisher import Publisher
from common.ratelimit import Rate, RateLimiter
from common.runtime import Runtime
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from .auth import KeyRing, User
from .settings import GatewaySettings

_bearer = HTTPBearer(auto_error=False)

# Dependencies are `async def` even when they only read an attribute: FastAPI runs a plain
# `def` dependency in its thread pool, a hop per dependency per request that showed up as
# tens of milliseconds of p99 on POST /v1/sms.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Settings = Annotated[GatewaySettings, Depends(get_settings)]


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
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    keys: KeyRing = request.app.state.keys
    user = await keys.resolve(credentials.credentials)
    if user is None:
        raise HTTPException(
            401,
            "unknown API key: create one with `relay keys create --user <id>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    settings: GatewaySettings = request.app.state.settings
    if settings.api_rate_per_minute:
        runtime: Runtime = request.app.state.runtime
        await runtime.limiter.check(f"api:{user.id}", Rate(settings.api_rate_per_minute, 60))
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if not user.admin:
        raise HTTPException(403, "this endpoint needs an admin key (ADMIN_API_KEYS or --admin)")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
