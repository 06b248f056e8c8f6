"""The failed-job runbook (Laravel's `queue:failed`, `queue:retry`, `queue:forget`,
`queue:flush`): `GET|POST|DELETE /v1/ops/failed...`, the dashboard's failed-jobs forms and
`relay failed ...` all call these functions.

Parked messages (`<queue>.parked`: dead while the failed-job store was out of reach) are
listed and retried with the failed jobs: listing them, or retrying them all, first moves
every parked message into the failed-job store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

import httpx
from common.dead_letters import FailedJob, FailedJobStore, drain_parked
from common.publisher import Publisher
from common.settings import RuntimeSettings
from common.topology import Queue, all_queues

from .actor import Actor, AuditTrail, record
from .queue_stats import QueueStats, queue_stats

RETRY = "failed.retry"
RETRY_ALL = "failed.retry_all"
FORGET = "failed.forget"
FLUSH = "failed.flush"


class FailedJobsAccess(Protocol):
    """What the runbook needs: the gateway's Runtime has it, so has the CLI's."""

    @property
    def settings(self) -> RuntimeSettings: ...
    @property
    def failed_jobs(self) -> FailedJobStore: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def audit(self) -> AuditTrail: ...


@dataclass(frozen=True)
class FailedJobsListed:
    jobs: list[FailedJob]
    unparked: int  # parked messages moved into the store before listing
    total: int | None = None  # every failed job (of the queue), when asked for


@dataclass(frozen=True)
class RetriedAll:
    retried: int
    unparked: int


async def unpark(runtime: FailedJobsAccess, known: list[QueueStats] | None = None) -> int:
    """Move every parked message into the failed-job store; returns how many.

    The parked queues holding messages are found with the management API (or in `known`,
    stats just read), so a queue this process does not know is drained too; without the
    API, the registered ones.
    """
    try:
        stats = await queue_stats(runtime.settings) if known is None else known
        holding = [Queue(q.name, "") for q in stats if q.parked]
    except httpx.HTTPError:
        holding = all_queues()
    if not holding:
        return 0
    return await drain_parked(runtime.failed_jobs, runtime.publisher, holding)


async def list_failed(
    runtime: FailedJobsAccess,
    queue: str | None,
    limit: int,
    offset: int = 0,
    *,
    with_total: bool = False,
) -> FailedJobsListed:
    """Failed jobs (of `queue`), newest first, parked messages included."""
    unparked = await unpark(runtime)
    jobs = await runtime.failed_jobs.list(queue, limit, offset)
    total = await runtime.failed_jobs.count(queue) if with_total else None
    return FailedJobsListed(jobs, unparked, total)


async def retry(runtime: FailedJobsAccess, actor: Actor, failed_id: uuid.UUID) -> None:
    """Push one failed job back onto its queue with its attempts reset; NotFound if gone."""
    await runtime.failed_jobs.retry(failed_id, runtime.publisher)
    await record(runtime.audit, actor, RETRY, str(failed_id))


async def retry_all(runtime: FailedJobsAccess, actor: Actor, queue: str | None) -> RetriedAll:
    """Push every failed job (of `queue`), parked ones included, back onto its queue."""
    unparked = await unpark(runtime)
    retried = await runtime.failed_jobs.retry_all(runtime.publisher, queue)
    await record(runtime.audit, actor, RETRY_ALL, queue or "*", retried=retried)
    return RetriedAll(retried, unparked)


async def forget(runtime: FailedJobsAccess, actor: Actor, failed_id: uuid.UUID) -> None:
    """Delete one failed job; NotFound if it is not there."""
    await runtime.failed_jobs.forget(failed_id)
    await record(runtime.audit, actor, FORGET, str(failed_id))


async def flush(runtime: FailedJobsAccess, actor: Actor, queue: str | None) -> int:
    """Delete every failed job (of `queue`); returns how many."""
    flushed = await runtime.failed_jobs.flush(queue)
    await record(runtime.audit, actor, FLUSH, queue or "*", flushed=flushed)
    return flushed
