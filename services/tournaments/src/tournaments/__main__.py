"""`python -m tournaments`: the tournaments worker."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from common.consumer import Worker, run_worker
from common.runtime import Runtime

from . import legacy_outbox
from .jobs import router
from .settings import TournamentSettings

log = logging.getLogger("relay.tournaments")


async def main() -> None:
    runtime = await Runtime.start(TournamentSettings(), "tournaments")

    async def adopt_leftovers(worker: Worker) -> None:
        # This release only (legacy_outbox.py): the previous release's unpublished rows.
        # Not fatal: warn_deadlines adopts them again each period.
        try:
            await legacy_outbox.adopt_leftovers(runtime)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as trouble:
            log.warning("previous release's outbox not adopted yet", extra={"error": repr(trouble)})

    # Its handlers and its routes in the gateway stage follow-ups by_relay (follow_ups.py).
    await run_worker(runtime, router, extra=adopt_leftovers, relay_outbox=True)


if __name__ == "__main__":
    asyncio.run(main())
