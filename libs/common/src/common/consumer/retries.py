"""Retry policy: how many attempts a job has, how long a failed one waits, and in which tier.

A queue's policy comes from its declaration (`Queue.max_attempts`, `retry_delays`,
`timeout`), else from JOB_MAX_ATTEMPTS / JOB_RETRY_DELAYS / JOB_TIMEOUT. A message may
narrow it for itself with headers (a producer that knows its job, such as a Laravel job's
`$tries`, `$backoff`, `$timeout` and `retryUntil()`): `x-max-attempts`, `x-retry-delays`
("10,30,60"), `x-timeout` (seconds) and `x-retry-until` (epoch seconds: attempts go on
until then, whatever the maximum, as Laravel does). A header that does not read as a
positive number is ignored: a foreign producer never buys retries with a bad value.

A job that must wait is copied to a tier queue whose TTL dead-letters it back to its work
queue when due; the copy's headers carry its next attempt, when it is due and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic

from ..envelope import (
    ATTEMPT,
    ENQUEUED_AT,
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    RETRY_UNTIL,
    TIMEOUT,
    Envelope,
    enqueued_stamp,
)
from ..settings import RuntimeSettings
from ..topology import Queue, RetryTier

LAST_ERROR = "x-last-error"


@dataclass(frozen=True)
class RetryPolicy:
    """The attempts, delays and time limit one delivery runs under."""

    max_attempts: int
    delays: tuple[float, ...]
    timeout: float
    retry_until: float | None = None  # epoch seconds; attempts go on until then

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed `attempt` (1-based); the last delay repeats."""
        return self.delays[min(attempt, len(self.delays)) - 1]

    def may_retry(self, attempt: int, now: float) -> bool:
        """Whether a job whose `attempt` failed at `now` gets another one."""
        if self.retry_until is not None:
            return now < self.retry_until
        return attempt < self.max_attempts


def queue_policy(queue: Queue, settings: RuntimeSettings) -> RetryPolicy:
    """`queue`'s own policy: its declaration, else the JOB_* settings."""
    return RetryPolicy(
        max_attempts=queue.max_attempts or settings.job_max_attempts,
        delays=tuple(queue.retry_delays or settings.job_retry_delays),
        timeout=queue.timeout or settings.job_timeout,
    )


def policy_for(queue: Queue, settings: RuntimeSettings, envelope: Envelope) -> RetryPolicy:
    """The policy of one delivery: its queue's, narrowed by the message's own headers."""
    base = queue_policy(queue, settings)
    headers = envelope.headers
    if not any(key in headers for key in (MAX_ATTEMPTS, RETRY_DELAYS, TIMEOUT, RETRY_UNTIL)):
        return base
    attempts = _positive(headers.get(MAX_ATTEMPTS))
    timeout = _positive(headers.get(TIMEOUT))
    until = _positive(headers.get(RETRY_UNTIL))
    return RetryPolicy(
        max_attempts=max(1, int(attempts)) if attempts else base.max_attempts,
        delays=_delays(headers.get(RETRY_DELAYS)) or base.delays,
        timeout=timeout or base.timeout,
        retry_until=until,
    )


def policy_headers(
    *,
    max_attempts: int | None = None,
    delays: tuple[float, ...] | None = None,
    timeout: float | None = None,
    retry_until: float | None = None,
) -> dict[str, Any]:
    """The headers that give a message its own policy (the inverse of `policy_for`)."""
    headers: dict[str, Any] = {}
    if max_attempts:
        headers[MAX_ATTEMPTS] = int(max_attempts)
    if delays:
        # Text, not an AMQP array of floats: pamqp writes floats as 32-bit.
        headers[RETRY_DELAYS] = ",".join(f"{delay:g}" for delay in delays)
    if timeout:
        headers[TIMEOUT] = f"{timeout:g}"
    if retry_until:
        headers[RETRY_UNTIL] = int(retry_until)
    return headers


def retry_tier(queue: Queue, settings: RuntimeSettings, delay: float) -> RetryTier:
    """Where a failed attempt waits out its backoff: the shortest of `queue`'s tiers that
    holds it at least `delay` (else the longest). A message's own delays that match no
    tier wait in the next longer one."""
    tiers = queue.tiers(queue.retry_delays or settings.job_retry_delays)
    return next((t for t in tiers if t.delay >= delay), tiers[-1])


def wait_tier(queue: Queue, settings: RuntimeSettings, delay: float) -> RetryTier:
    """Where a job that must wait `delay` without spending an attempt waits: the longest
    tier that does not overshoot it (else the shortest). The job then looks again, and
    waits the rest, so a throttle or a due time is never overshot by a whole tier."""
    tiers = queue.tiers(queue.retry_delays or settings.job_retry_delays)
    fitting = [t for t in tiers if t.delay <= delay]
    return fitting[-1] if fitting else tiers[0]


def tier_headers(
    headers: dict[str, Any], tier: RetryTier, attempt: int, error: str | None
) -> dict[str, Any]:
    """`headers` for a copy waiting in `tier`: its attempt, when it is due, why it waits."""
    headers = dict(headers)
    headers[ATTEMPT] = attempt
    headers[ENQUEUED_AT] = enqueued_stamp(time.time() + tier.delay)
    if error:
        headers[LAST_ERROR] = error[:500]
    return headers


def tier_copy(
    message: AbstractIncomingMessage, tier: RetryTier, attempt: int, error: str | None
) -> Basic.Properties:
    """The properties of `message`'s copy waiting in `tier` as attempt `attempt`."""
    return Basic.Properties(
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        message_type=message.type,
        content_type=message.content_type,
        delivery_mode=int(aio_pika.DeliveryMode.PERSISTENT),
        timestamp=message.timestamp,
        headers=tier_headers(message.headers or {}, tier, attempt, error),
    )


def _positive(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 and number != float("inf") else None


def _delays(value: object) -> tuple[float, ...] | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    delays = [_positive(part.strip()) for part in value.split(",") if part.strip()]
    if not delays or any(delay is None for delay in delays):
        return None
    return tuple(delay for delay in delays if delay is not None)
