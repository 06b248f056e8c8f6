"""Where follow-ups go: staged in the runtime's outbox, in the caller's transaction.

`by_relay`: nobody who writes them waits for RabbitMQ (a result is answered once
committed, a periodic job's run is its SQL); the outbox relay of every tournaments worker
(`run_worker(relay_outbox=True)`) publishes them as soon as the transaction commits, each
with its deterministic id as message id, and the outbox sweeper whatever is left.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from common.runtime import Runtime

from .domain import FollowUp


async def stage(
    runtime: Runtime, connection: asyncpg.Connection, follow_ups: Sequence[FollowUp]
) -> None:
    """Stage `follow_ups` in `connection`'s transaction."""
    await runtime.outbox.stage(connection, [f.for_outbox() for f in follow_ups], by_relay=True)
