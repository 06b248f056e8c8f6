"""`python -m gateway`: serve the API on GATEWAY_PORT; drain before stopping."""

from __future__ import annotations

import logging
import sys
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI

from .app import create_app
from .settings import GatewaySettings

log = logging.getLogger("relay.gateway")

# Seconds an idle client connection is kept open. Longer than a proxy keeps its idle
# connections to a replica (HAProxy purges its pool from 5 s on; nginx's upstream
# keepalive_timeout is 60 s): a replica that closes first races the proxy's next request
# on that connection, which the proxy answers 502.
KEEP_ALIVE_SECONDS = 75
# Seconds in-flight requests (and open SSE streams, which then reconnect elsewhere with
# Last-Event-ID) get once the replica stopped accepting.
GRACEFUL_SHUTDOWN_SECONDS = 10
# uvicorn's exit status when the application did not start (its lifespan failed).
STARTUP_FAILURE = 3


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain before its graceful shutdown.

    The first SIGTERM (or SIGINT) marks the app draining (/readyz answers 503) and keeps
    serving for `drain_seconds`, so a proxy's health check takes the replica out of
    rotation while it still answers; then uvicorn's own shutdown stops accepting and lets
    in-flight requests finish. A second signal skips what is left of the drain.
    """

    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_seconds: float) -> None:
        super().__init__(config)
        self.app = app
        self.drain_seconds = drain_seconds
        self.drain_started: float | None = None
        self.drain_announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain_seconds <= 0 or self.drain_started is not None or self.should_exit:
            super().handle_exit(sig, frame)
            return
        # A signal handler: only flags here; on_tick (the server's loop) acts on them.
        self._captured_signals.append(sig)
        self.drain_started = time.monotonic()
        self.app.state.draining = True

    async def on_tick(self, counter: int) -> bool:
        # Logged from here, not from the signal handler: logging takes locks.
        if self.drain_started is not None and not self.should_exit:
            if not self.drain_announced:
                self.drain_announced = True
                log.info(
                    "draining: /readyz answers 503, requests are still served",
                    extra={"drain_seconds": self.drain_seconds},
                )
            if time.monotonic() - self.drain_started >= self.drain_seconds:
                log.info("drained: no longer accepting; finishing requests in flight")
                self.should_exit = True
        return await super().on_tick(counter)


def main() -> None:
    settings = GatewaySettings()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # The client's address and scheme from a trusted proxy's X-Forwarded-For / -Proto.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    server = DrainingServer(config, app, settings.gateway_drain_seconds)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
