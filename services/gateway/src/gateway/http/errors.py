"""Our exceptions as HTTP answers: one place, so no route invents its own."""

from __future__ import annotations

import logging
import math

import asyncpg
from common.errors import BrokerUnavailable, Conflict, LimitExceeded, NotFound
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from .nul_text import NulInText

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


UNSTORABLE_TEXT: tuple[type[Exception], ...] = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
    NulInText,
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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        # FastAPI answers 400 for a body it cannot decode (bytes that are not UTF-8 JSON);
        # for us that is invalid input like any other: 422 naming the body.
        if error.status_code == 400 and "parsing the body" in str(error.detail):
            if isinstance(error.__cause__, NulInText):
                return await unstorable_text(request, error.__cause__)
            message = "not a JSON document (or not UTF-8)"
            return JSONResponse(
                {
                    "detail": f"body: {message}",
                    "errors": [{"field": "body", "message": message, "type": "json_invalid"}],
                },
                status_code=422,
            )
        return await http_exception_handler(request, error)

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

    async def unstorable_text(request: Request, error: Exception) -> JSONResponse:
        # Postgres text cannot hold NUL (\u0000): such input is invalid, not a crash. The
        # statement failed, so its transaction rolled back and nothing was stored.
        message = "text may not contain NUL (\\u0000) characters"
        return JSONResponse(
            {"detail": message, "errors": [{"field": "body", "message": message}]},
            status_code=422,
        )

    for unstorable in UNSTORABLE_TEXT:
        app.add_exception_handler(unstorable, unstorable_text)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error) or "not found"}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, error: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)
