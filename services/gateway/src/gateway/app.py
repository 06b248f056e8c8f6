"""The FastAPI application: runtime connections in the lifespan, routers, error answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from common.errors import BrokerUnavailable
from common.outbox import sweep_forever
from common.retention import prune_forever
from common.runtime import Runtime
from common.telemetry.error_reports import setup_error_reports
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from . import dashboard, health, ops
from .auth.keys import KeyRing, authenticator
from .dashboard.alerts import watch_alerts
from .domains import DOMAINS
from .http import errors, openapi
from .http.idempotency import IdempotencyMiddleware
from .http.metrics import HttpMetricsMiddleware
from .http.nul_text import RejectNulMiddleware
from .http.security import SecurityHeadersMiddleware
from .settings import GatewaySettings

log = logging.getLogger(__name__)

# How long shutdown waits for the cancelled background tasks before it closes the runtime.
SHUTDOWN_GRACE_SECONDS = 5


async def sweep_outbox(app: FastAPI) -> None:
    """Publish jobs the domain routers staged whose publish was not confirmed."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    await sweep_forever(runtime.outbox, settings.outbox_sweep_interval, settings.outbox_sweep_after)


async def prune_old_records(app: FastAPI) -> None:
    """Retention: delete what is older than its RETENTION_* setting, once per period
    across every gateway replica (`relay prune` does the same by hand)."""
    await prune_forever(app.state.runtime)


# Coroutines started with the app and cancelled at shutdown (e.g. the SSE event relay).
BACKGROUND: list[Callable[[FastAPI], Coroutine[Any, Any, None]]] = [
    watch_alerts,
    sweep_outbox,
    prune_old_records,
]


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    # Before the app exists: sentry-sdk hooks Starlette's error handling as it is built.
    setup_error_reports(settings.sentry_dsn, "gateway")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Postgres and Redis are waited for; RabbitMQ is not, so the gateway can answer
        # 503 + Retry-After (and /readyz names it) while the broker is down.
        runtime = await Runtime.start(settings, "gateway", wait_for_broker=False)
        app.state.runtime = runtime
        app.state.keys = KeyRing(settings, runtime.pool)
        app.state.authenticate = authenticator(app.state.keys, settings, runtime)
        with contextlib.suppress(BrokerUnavailable):
            await runtime.publisher.connect()
        tasks = [asyncio.create_task(start(app)) for start in BACKGROUND]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            # Bounded: a library that swallows a cancellation must not hang the shutdown.
            _, running = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in running:
                log.warning("background task did not stop", extra={"task": task.get_name()})
            await runtime.close()

    # /docs and /redoc load Swagger UI and ReDoc from the fastapi-offline package, not a CDN.
    app = FastAPIOffline(
        static_url="/docs/assets",
        title="Relay",
        version="0.1.0",
        description="Background jobs on RabbitMQ: SMS, payments, tournaments, notifications.",
        lifespan=lifespan,
        # Our HttpMetricsMiddleware owns the server span and the Prometheus metrics;
        # FastAPI's native telemetry (0.16x) would open a second, unrelated server span.
        telemetry={"tracing": False, "metrics": False},
    )
    app.state.settings = settings
    # Set by `python -m gateway` on SIGTERM: /readyz answers 503 while the replica drains.
    app.state.draining = False
    # Inside Idempotency-Key's spool, so the route's read is what is checked.
    app.add_middleware(RejectNulMiddleware)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    # Added last, so outermost: the server span covers the whole request.
    app.add_middleware(HttpMetricsMiddleware)
    errors.install(app)
    openapi.install(app)
    app.include_router(health.router)
    app.include_router(ops.router)
    for domain in DOMAINS:
        app.include_router(domain.router)
    app.include_router(dashboard.router)
    return app
