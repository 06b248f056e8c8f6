"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from common.laravel import job_counts, job_counts_text
from common.version import release_version
from common.web import RuntimeDep
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from .deps import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive, and which release this replica runs (two may differ during a deploy)."""
    return {"status": "ok", "version": release_version()}


@router.get("/readyz")
async def readyz(request: Request, runtime: RuntimeDep, settings: Settings) -> JSONResponse:
    if request.app.state.draining:
        # Shutting down (SIGTERM): a proxy's health check takes this replica out of
        # rotation while it still answers (python -m gateway, GATEWAY_DRAIN_SECONDS).
        return JSONResponse(
            {"status": "draining", "down": [], "detail": "shutting down: use another replica"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

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
async def metrics(runtime: RuntimeDep) -> Response:
    """This process's metrics, and relay_laravel_jobs_total: the Laravel bridges' counts
    added up in Redis (each bridge also serves its own on METRICS_PORT; Prometheus scrapes
    those and drops this copy, infra/prometheus/prometheus.yml)."""
    text = generate_latest()
    try:
        async with asyncio.timeout(1.0):
            counts = await job_counts(runtime.redis, runtime.settings.redis_key_prefix)
    except (RedisError, OSError, TimeoutError):
        counts = {}  # Redis away: the process's own metrics still answer
    return Response(text + job_counts_text(counts), media_type=CONTENT_TYPE_LATEST)
