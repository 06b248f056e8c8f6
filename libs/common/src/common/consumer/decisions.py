"""The one place that decides what becomes of a job that did not finish.

A handler raises (or returns the parts of a batch that did not finish, each with what it
raised); this module turns that into a Decision: wait without spending an attempt, retry
with the next attempt after its delay, or bury (the failed-job store, then the handler's
`on_dead` hook). Whole jobs and parts of a batch are decided alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import Permanent, RetryLater
from .retries import RetryPolicy

# Infrastructure trouble is not the job's fault: wait for it without spending an attempt.
INFRA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
    # Contention between concurrent jobs: Postgres aborted one of them, not the job's fault.
    asyncpg.exceptions.DeadlockDetectedError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionRefusedError,
)
INFRA_WAIT = 5.0


class Action(StrEnum):
    wait = "wait"  # back to the queue after `delay`, same attempt
    retry = "retry"  # back to the queue after `delay`, next attempt
    bury = "bury"  # dead: the failed-job store, then `on_dead`


@dataclass(frozen=True)
class Decision:
    action: Action
    error: str
    delay: float = 0.0

    def next_attempt(self, attempt: int) -> int:
        return attempt + 1 if self.action is Action.retry else attempt


def decide(
    failure: BaseException, attempt: int, policy: RetryPolicy, now: float | None = None
) -> Decision:
    """What becomes of a job (or part) whose `attempt` ended in `failure`."""
    if isinstance(failure, RetryLater):
        return Decision(Action.wait, failure.reason, failure.delay)
    if isinstance(failure, INFRA_ERRORS):
        return Decision(Action.wait, f"infrastructure unavailable: {failure!r}", INFRA_WAIT)
    error = describe(failure, policy)
    if isinstance(failure, Permanent):
        return Decision(Action.bury, error)
    if not policy.may_retry(attempt, time.time() if now is None else now):
        return Decision(Action.bury, error)
    return Decision(Action.retry, error, policy.delay_after(attempt))


def describe(failure: BaseException, policy: RetryPolicy) -> str:
    """The error text a failure leaves in logs, records and the failed-job store."""
    if isinstance(failure, TimeoutError) and not str(failure):
        return f"timed out after {policy.timeout:g}s"
    return f"{type(failure).__name__}: {failure}"
