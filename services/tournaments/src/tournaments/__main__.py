"""`python -m tournaments`: the tournaments worker, with its outbox relay."""

from __future__ import annotations

import asyncio

from common.consumer import Worker, run_worker
from common.runtime import Runtime

from .jobs import router
from .relay import OutboxRelay
from .settings import TournamentSettings


async def main() -> None:
    runtime = await Runtime.start(TournamentSettings(), "tournaments")
    relay = OutboxRelay(runtime)

    async def start_relay(worker: Worker) -> None:
        relay.start()

    try:
        await run_worker(runtime, router, extra=start_relay)
    finally:
        await relay.stop()


if __name__ == "__main__":
    asyncio.run(main())
