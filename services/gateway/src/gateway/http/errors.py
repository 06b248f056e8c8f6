"""Our exceptions as HTTP answers: one place, so no route invents its own."""

from __future__ import annotations

import logging
import math

import asyncpg
from common.errors import BrokerUnavailable, Conflict, LimitExceeded, NotFound
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

BROKER_RETRY_AFTER = 5
# Postgres or Redis out of reach (down, restarting, out of connections): not the
# request's fault, so 503 + Retry-After like the broker, never a 500.
STORE_TROUBLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.InterfaceError,
    ConnectionRefusedError,
    RedisConnectionError,
    RedisTimeoutError,
)


def _field(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in error.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return JSONResponse(
            {"detail": f"{first['field']}: {first['message']}", "errors": errors},
            status_code=422,
        )

    @app.exception_handler(LimitExceeded)
    async def limited(request: Request, error: LimitExceeded) -> JSONResponse:
        retry_after = max(1, math.ceil(error.retry_after))
        return JSONResponse(
            {"detail": f"{error.reason}; retry in {retry_after}s"},
            status_code=429,
            headers={"Retry-After": str(retry_after)},
        )

    @app.exception_handler(BrokerUnavailable)
    async def broker_down(request: Request, error: BrokerUnavailable) -> JSONResponse:
        log.warning("broker unavailable", extra={"error": str(error), "path": request.url.path})
        return JSONResponse(
            {"detail": "the job queue is unavailable; nothing was queued, retry later"},
            status_code=503,
            headers={"Retry-After": str(BROKER_RETRY_AFTER)},
        )

    async def store_down(request: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable", extra={"error": repr(error), "path": request.url.path})
        return JSONResponse(
            {"detail": "the database is unavailable right now; retry later"},
            status_code=503,
            headers={"Retry-After": str(BROKER_RETRY_AFTER)},
        )

    for trouble in STORE_TROUBLE:
        app.add_exception_handler(trouble, store_down)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error) or "not found"}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, error: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)
