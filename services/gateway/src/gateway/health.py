"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from common.version import release_version
from common.web import RuntimeDep
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .deps import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive, and which release this replica runs (two may differ during a deploy)."""
    return {"status": "ok", "version": release_version()}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep, settings: Settings) -> JSONResponse:
    async def rabbitmq() -> None:
        await runtime.publisher.connect()

    async def postgres() -> None:
        await runtime.pool.fetchval("SELECT 1")

    async def redis() -> None:
        await runtime.redis.ping()

    checks = {"rabbitmq": rabbitmq, "postgres": postgres, "redis": redis}

    async def probe(check: object) -> bool:
        try:
            await asyncio.wait_for(check(), settings.readiness_timeout)  # type: ignore[operator]
        except Exception:
            return False
        return True

    results = await asyncio.gather(*(probe(check) for check in checks.values()))
    down = [name for name, ok in zip(checks, results, strict=True) if not ok]
    if down:
        return JSONResponse(
            {"status": "unavailable", "down": down, "detail": f"not reachable: {', '.join(down)}"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready", "down": []})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
