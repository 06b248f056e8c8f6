"""One Laravel message handed to Relay: read, mapped to its domain's adapter, accepted.

`HandOver.decide` never acks anything: it answers what became of the message (a Relay job
confirmed, the same job seen before, forwarded to the PHP workers) or raises
`Refused` (the message can never become a Relay job as it is: the caller buries its exact
bytes in the failed-job store) or `NotNow` (Relay cannot take it now: broker or database
trouble; the caller keeps it unacked and asks again).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg
from common.consumer import policy_headers
from common.consumer.decisions import INFRA_ERRORS
from common.errors import BrokerUnavailable
from common.laravel import LaravelCall, LaravelFiles, LaravelInputError
from common.runtime import Runtime
from redis.exceptions import RedisError

from .errors import LaravelWireError, NotCarriedError, PropertyError, UnmappedClassError
from .job_map import JobMap, JobMapping
from .wire import LaravelJob, parse_message


class Verdict(StrEnum):
    accepted = "accepted"  # a new Relay job, confirmed by the broker
    duplicate = "duplicate"  # the same Laravel job was handed over before: nothing new
    forwarded = "forwarded"  # an unmapped class, republished to LARAVEL_UNMAPPED_QUEUE


class Refused(Exception):
    """The message can never become a Relay job as it is: bury it with `reason`."""

    def __init__(self, reason: str, code: str, trace: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.trace = trace


class NotNow(Exception):
    """Relay cannot take the job now (broker or database away): keep it and ask again."""


# Trouble of Relay's own, not of the message: it waits, unacked, and is handed over again.
_WAIT_FOR: tuple[type[BaseException], ...] = (
    BrokerUnavailable,
    *INFRA_ERRORS,
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.QueryCanceledError,
    RedisError,
)

Forward = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Peek:
    """What can be told of a message before reading it properly (for logs and records)."""

    job_class: str | None
    job_id: str | None

    @classmethod
    def of(cls, body: bytes) -> Peek:
        try:
            document = json.loads(body)
        except ValueError:
            return cls(None, None)
        if not isinstance(document, dict):
            return cls(None, None)
        data = document.get("data")
        name = data.get("commandName") if isinstance(data, dict) else None
        job_id = document.get("uuid")
        return cls(
            name if isinstance(name, str) and name else None,
            job_id if isinstance(job_id, str) else None,
        )


class HandOver:
    """Turns Laravel messages into Relay jobs through the domains' adapters."""

    def __init__(
        self,
        runtime: Runtime,
        job_map: JobMap,
        *,
        app_keys: list[bytes],
        files: LaravelFiles,
        default_user: str,
        forwarding: bool,
    ) -> None:
        self.runtime = runtime
        self.job_map = job_map
        self.app_keys = app_keys
        self.files = files
        self.default_user = default_user
        self.forwarding = forwarding

    async def decide(
        self,
        laravel_queue: str,
        body: bytes,
        headers: Mapping[str, Any],
        correlation_id: str | None,
        peek: Peek,
        forward: Forward,
    ) -> Verdict:
        """Hand one message over; Refused or NotNow when it cannot be now (see above)."""
        mapping = self.job_map.find(peek.job_class) if peek.job_class else None
        if peek.job_class and mapping is None:
            if self.forwarding:
                await _waiting_on(forward())
                return Verdict.forwarded
            raise _refused(
                UnmappedClassError(
                    "no Relay job takes this class (LARAVEL_JOB_MAP), and "
                    "LARAVEL_UNMAPPED_QUEUE is not set",
                    job_class=peek.job_class,
                )
            )
        try:
            job = parse_message(body, headers, app_keys=self.app_keys)
        except LaravelWireError as unreadable:
            raise _refused(unreadable) from None
        assert mapping is not None  # a readable message has a class, so it was looked up
        _check_carried(job)
        call, found = self._call(job, mapping, laravel_queue, correlation_id)
        try:
            created = await _waiting_on(mapping.adapter.accept(self.runtime, call))
        except LaravelInputError as bad:
            raise _refused(_property_error(job, mapping, found, bad)) from None
        return Verdict.accepted if created.new else Verdict.duplicate

    def _call(
        self, job: LaravelJob, mapping: JobMapping, laravel_queue: str, correlation_id: str | None
    ) -> tuple[LaravelCall, dict[str, str]]:
        found: dict[str, str] = {}
        try:
            values = mapping.resolve(job.arguments(), found)
        except LaravelInputError as bad:
            raise _refused(_property_error(job, mapping, found, bad)) from None
        call = LaravelCall(
            job_id=job.uuid,
            job_class=job.command_name,
            laravel_queue=laravel_queue,
            values=values,
            attempt=job.attempt,
            policy=policy_of(job),
            correlation_id=correlation_id or job.driver_id,
            files=self.files,
            default_user=self.default_user,
        )
        return call, found


async def _waiting_on(work: Awaitable[Any]) -> Any:
    """`work`'s result; NotNow when Relay's broker, database or Redis is in the way.
    Anything else unexpected is refused with its traceback: a message must never loop."""
    try:
        return await work
    except (LaravelInputError, Refused):
        raise
    except _WAIT_FOR as trouble:
        raise NotNow(repr(trouble)) from trouble
    except Exception as unexpected:
        raise Refused(
            f"{type(unexpected).__name__}: {unexpected}", "unexpected", traceback.format_exc()
        ) from unexpected


def policy_of(job: LaravelJob) -> dict[str, Any]:
    """Laravel's $tries, $backoff, $timeout and retryUntil() as the runtime's policy headers
    (a backoff of 0 s waits in the queue's shortest retry tier; $tries = 0, Laravel's
    "unlimited", leaves the queue's JOB_MAX_ATTEMPTS)."""
    delays = tuple(max(float(delay), 0.001) for delay in job.backoff) if job.backoff else None
    return policy_headers(
        max_attempts=job.max_tries,
        delays=delays,
        timeout=job.timeout,
        retry_until=job.retry_until,
    )


def _check_carried(job: LaravelJob) -> None:
    """Refuse what Relay would silently drop: the jobs chained after it, its batch."""
    if job.chained:
        raise _refused(
            NotCarriedError(
                f"{len(job.chained)} job(s) are chained after it; chains are not carried "
                "(docs/laravel.md: dispatch the next job from Relay, or keep the chain in PHP)",
                job_class=job.command_name,
                property_name="chained",
            )
        )
    if job.command.get("batchId"):
        raise _refused(
            NotCarriedError(
                "it belongs to a batch (Bus::batch); batches are not carried "
                "(docs/laravel.md: dispatch the jobs one by one, or keep the batch in PHP)",
                job_class=job.command_name,
                property_name="batchId",
            )
        )


def _property_error(
    job: LaravelJob, mapping: JobMapping, found: Mapping[str, str], bad: LaravelInputError
) -> PropertyError:
    name, others = mapping.property_of(bad.field, found)
    problem = bad.problem
    if others:
        problem += " (nor is " + " or ".join(repr(other) for other in others) + ")"
    return PropertyError(problem, job_class=job.command_name, property_name=name)


def _refused(error: LaravelWireError) -> Refused:
    return Refused(error.reason, error.code)
