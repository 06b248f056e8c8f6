"""What a handler receives besides its payload: the runtime and this delivery's envelope."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from ..envelope import Envelope, Job, job_type
from ..runtime import Runtime
from ..telemetry import error_reports
from ..topology import Queue
from .retries import max_attempts, retry_delay, tier_for, tier_headers


class AlreadyProcessed(Exception):
    """This message's effect is already committed; ack it and move on."""


@dataclass
class JobContext:
    """What a handler may use: the runtime's connections and this delivery's envelope."""

    runtime: Runtime
    queue: Queue
    envelope: Envelope

    @functools.cached_property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose lines carry the job, message id and attempt (built on first use)."""
        return logging.LoggerAdapter(
            logging.getLogger(f"relay.{self.queue.name}"),
            {
                "job": self.envelope.job_type,
                "message_id": self.envelope.message_id,
                "attempt": self.envelope.attempt,
            },
        )

    @property
    def attempt(self) -> int:
        return self.envelope.attempt

    @property
    def message_id(self) -> str:
        return self.envelope.message_id

    @property
    def user_id(self) -> str | None:
        return self.envelope.user_id

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A DB transaction that also records this message as processed.

        The record is inserted first: a concurrent redelivery blocks on its key until
        this transaction ends, then sees it and skips (AlreadyProcessed), so the
        effect happens once. Rolled back with the effect if the handler fails.
        """
        async with self.runtime.pool.acquire() as connection, connection.transaction():
            inserted = await connection.fetchval(
                """
                INSERT INTO runtime.processed_messages (queue, message_id) VALUES ($1, $2)
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                self.queue.name,
                self.envelope.message_id,
            )
            if inserted is None:
                raise AlreadyProcessed(self.envelope.message_id)
            yield connection

    # A job that carries several parts (a batch of messages to send) may settle each part
    # on its own: retry one, bury another, and let the runtime ack the whole.

    @property
    def max_attempts(self) -> int:
        return max_attempts(self.queue, self.runtime.settings)

    def retry_delay(self, attempt: int) -> float:
        """How long the runtime waits before retrying a job whose attempt `attempt` failed."""
        return retry_delay(self.queue, self.runtime.settings, attempt)

    async def defer(
        self,
        part: Job,
        *,
        message_id: str,
        delay: float,
        attempt: int,
        error: str | None = None,
    ) -> None:
        """Publish `part` back to this queue after `delay` (its tier; 0: straight to the
        queue), as attempt `attempt`.

        Confirmed before this returns: once the handler returns and the whole is acked,
        the part is in the broker.
        """
        properties = self._part_envelope(part, message_id, attempt).properties()
        target = self.queue.name
        if delay > 0:
            tier = tier_for(self.queue, self.runtime.settings, delay)
            properties.headers = tier_headers(properties.headers or {}, tier, attempt, error)
            target = tier.name
        body = part.model_dump_json().encode()
        await self.runtime.publisher.publish_body("", target, body, properties)

    async def bury(self, part: Job, *, message_id: str, error: str, attempts: int) -> None:
        """Record `part` in the failed-job store of this queue; a retry republishes it here."""
        envelope = self._part_envelope(part, message_id, attempts)
        await self.runtime.failed_jobs.add(
            queue=self.queue.name,
            envelope=envelope,
            body=part.model_dump_json().encode(),
            error=error,
            traceback="",
            attempts=attempts,
        )
        error_reports.job_died(
            None,
            error,
            queue=self.queue.name,
            job_type=envelope.job_type,
            message_id=message_id,
            attempt=attempts,
        )

    def _part_envelope(self, part: Job, message_id: str, attempt: int) -> Envelope:
        headers = {
            key: value
            for key, value in self.envelope.headers.items()
            if key in ("traceparent", "tracestate")
        }
        return Envelope(
            message_id=message_id,
            job_type=job_type(type(part)),
            correlation_id=self.envelope.correlation_id,
            attempt=attempt,
            user_id=self.envelope.user_id,
            headers=headers,
        )
