"""Retry tiers: how many attempts a queue allows, how long a failed one waits, and where.

A job that must wait is copied to a tier queue whose TTL dead-letters it back to its
work queue when due; the copy's headers carry its next attempt, when it is due and why.
"""

from __future__ import annotations

import time
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic

from ..envelope import ATTEMPT, ENQUEUED_AT, enqueued_stamp
from ..settings import RuntimeSettings
from ..topology import Queue, RetryTier


def max_attempts(queue: Queue, settings: RuntimeSettings) -> int:
    return queue.max_attempts or settings.job_max_attempts


def retry_delay(queue: Queue, settings: RuntimeSettings, attempt: int) -> float:
    delays = queue.retry_delays or settings.job_retry_delays
    return delays[min(attempt, len(delays)) - 1]


def tier_for(queue: Queue, settings: RuntimeSettings, delay: float) -> RetryTier:
    """The shortest of `queue`'s tiers that holds a job at least `delay` (else the longest)."""
    tiers = queue.tiers(queue.retry_delays or settings.job_retry_delays)
    return next((t for t in tiers if t.delay >= delay), tiers[-1])


def tier_headers(
    headers: dict[str, Any], tier: RetryTier, attempt: int, error: str | None
) -> dict[str, Any]:
    """`headers` for a copy parked in `tier`: its attempt, when it is due, why it waits."""
    headers = dict(headers)
    headers[ATTEMPT] = attempt
    headers[ENQUEUED_AT] = enqueued_stamp(time.time() + tier.delay)
    if error:
        headers["x-last-error"] = error[:500]
    return headers


def tier_copy(
    message: AbstractIncomingMessage, tier: RetryTier, attempt: int, error: str | None
) -> Basic.Properties:
    """The properties of `message`'s copy parked in `tier` as attempt `attempt`."""
    return Basic.Properties(
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        message_type=message.type,
        content_type=message.content_type,
        delivery_mode=int(aio_pika.DeliveryMode.PERSISTENT),
        timestamp=message.timestamp,
        headers=tier_headers(message.headers or {}, tier, attempt, error),
    )
