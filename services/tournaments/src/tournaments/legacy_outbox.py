"""What the previous release left in `tournaments.outbox`, adopted by the runtime's outbox.

REMOVE IN THE NEXT RELEASE, with its two calls (`__main__`, `jobs.warn_deadlines`), once
the contract migration in docs/upgrading.md has dropped the table.

Until this release follow-up jobs were rows in `tournaments.outbox`, published by a relay
in every tournaments worker. During a rolling deploy the old workers keep writing and
relaying their rows; a row that an old process committed and no old relay published (the
last old worker stopped first, an old gateway replica outlived them) would wait there
forever. So a tournaments worker adopts such rows, at start-up and with each
warn_deadlines run: unpublished rows older than OUTBOX_SWEEP_AFTER (an old relay publishes
its own within seconds) are staged in the runtime's outbox, their id as the message id as
before, and marked published in the same transaction (FOR UPDATE SKIP LOCKED, as the old
relay locks them: the two never both take a row).
"""

from __future__ import annotations

import logging

import asyncpg
from common import topology
from common.envelope import Envelope, Job
from common.runtime import Runtime
from notifications.contracts import CreateNotification
from pydantic import ValidationError

from .contracts import AdvanceRound, SendEmail

log = logging.getLogger("relay.tournaments.legacy_outbox")

BATCH = 500
# The job types the previous release wrote (its `job_type` column), by name.
_JOBS: dict[str, type[Job]] = {
    job.__name__: job for job in (CreateNotification, SendEmail, AdvanceRound)
}


async def adopt_leftovers(runtime: Runtime) -> int:
    """Stage every leftover row in the runtime's outbox, batch by batch; returns how many.
    A table that is gone already (the contract migration ran) has nothing to adopt."""
    adopted = 0
    while True:
        try:
            taken = await _adopt_batch(runtime)
        except asyncpg.UndefinedTableError:
            return adopted
        adopted += taken
        if taken < BATCH:
            if adopted:
                log.info("adopted the previous release's outbox rows", extra={"rows": adopted})
            return adopted


async def _adopt_batch(runtime: Runtime) -> int:
    older_than = runtime.settings.outbox_sweep_after
    async with runtime.pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            """
            SELECT id, queue, job_type, payload FROM tournaments.outbox
            WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1)
            ORDER BY created_at LIMIT $2
            FOR UPDATE SKIP LOCKED
            """,
            older_than,
            BATCH,
        )
        readable = {row["id"]: job for row in rows if (job := _job(row)) is not None}
        await runtime.outbox.stage(connection, list(readable.values()), by_relay=True)
        await connection.execute(
            "UPDATE tournaments.outbox SET published_at = now() WHERE id = ANY($1::uuid[])",
            list(readable),
        )
    return len(readable)


def _job(row: asyncpg.Record) -> tuple[topology.Queue, Job, Envelope] | None:
    """The row as the previous release's relay published it; None (logged, and left
    unpublished for an operator: the contract step counts such rows) for a row no queue
    or model can take."""
    try:
        queue = topology.queue(row["queue"])
        job = _JOBS[row["job_type"]].model_validate_json(row["payload"])
    except (KeyError, ValidationError) as unreadable:
        log.error(
            "previous release's outbox row left unpublished: unreadable",
            extra={"id": str(row["id"]), "queue": row["queue"], "error": repr(unreadable)},
        )
        return None
    return queue, job, Envelope(message_id=str(row["id"]), job_type=row["job_type"])
