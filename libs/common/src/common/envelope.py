"""The message envelope: a job's payload model and the AMQP properties around it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic
from pydantic import BaseModel, ConfigDict

ATTEMPT = "x-attempt"
USER_ID = "x-user-id"
IDEMPOTENCY_KEY = "x-idempotency-key"
RETRIED_FROM = "x-retried-from"
ENQUEUED_AT = "x-enqueued-at"
# When a job was staged in the outbox (integer ms, like x-enqueued-at): with x-enqueued-at,
# how long it waited there between its transaction and its publish.
STAGED_AT = "x-staged-at"
# A message's own retry policy (common.consumer.retries), e.g. from a Laravel job's
# `$tries`, `$backoff`, `$timeout` and `retryUntil()`.
MAX_ATTEMPTS = "x-max-attempts"
RETRY_DELAYS = "x-retry-delays"
TIMEOUT = "x-timeout"
RETRY_UNTIL = "x-retry-until"


class Job(BaseModel):
    """Base class of every job payload; validated when published and when consumed."""

    model_config = ConfigDict(frozen=True, extra="ignore")


@dataclass
class Envelope:
    """Everything about a message except its body."""

    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    job_type: str = ""
    correlation_id: str | None = None
    attempt: int = 1
    user_id: str | None = None
    idempotency_key: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)

    def properties(self, *, priority: int | None = None) -> Basic.Properties:
        """The AMQP properties of this envelope (persistent, JSON, ids, headers)."""
        now = time.time()
        headers: dict[str, Any] = dict(self.headers)
        headers[ATTEMPT] = self.attempt
        headers[ENQUEUED_AT] = enqueued_stamp(now)
        if self.user_id is not None:
            headers[USER_ID] = self.user_id
        if self.idempotency_key is not None:
            headers[IDEMPOTENCY_KEY] = self.idempotency_key
        return Basic.Properties(
            message_id=self.message_id,
            correlation_id=self.correlation_id,
            message_type=self.job_type,
            content_type="application/json",
            delivery_mode=int(aio_pika.DeliveryMode.PERSISTENT),
            timestamp=datetime.fromtimestamp(int(now), tz=UTC),
            headers=headers,
            priority=priority,
        )

    @classmethod
    def from_message(cls, message: AbstractIncomingMessage) -> Envelope:
        """The envelope of a delivery; never raises, whatever a foreign producer sent."""
        headers = dict(message.headers or {}) if isinstance(message.headers, dict) else {}
        return cls(
            message_id=_as_str(message.message_id) or str(uuid.uuid4()),
            job_type=_as_str(message.type) or "",
            correlation_id=_as_str(message.correlation_id),
            # At least 1: a negative attempt from a foreign producer must not buy retries.
            attempt=max(1, _as_int(headers.get(ATTEMPT), default=1)),
            user_id=_as_str(headers.get(USER_ID)),
            idempotency_key=_as_str(headers.get(IDEMPOTENCY_KEY)),
            headers=headers,
        )

    def enqueued_at(self) -> float | None:
        value = self.headers.get(ENQUEUED_AT)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value / 1000
        return float(value) if isinstance(value, float) else None


def enqueued_stamp(at: float) -> int:
    """`x-enqueued-at` in integer milliseconds: pamqp encodes a Python float header as a
    32-bit float, which rounds today's epoch seconds to the nearest 128 s."""
    return int(at * 1000)


def job_type(model: type[BaseModel]) -> str:
    return model.__name__


def _as_int(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, bytes | str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def _as_str(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)
