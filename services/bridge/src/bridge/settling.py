"""Settling one Laravel delivery: handed over, then acked; or, when it can never become a
Relay job, its exact bytes buried in the failed-job store (the runtime's burial: parked
when the store is away), then acked; or, while Relay's broker or database is away, kept
unacked and handed over again, with a growing pause, never in a hot loop.

No message is acked before it is durable somewhere: a Relay job confirmed by the broker,
a copy confirmed on the unmapped queue, a failed-job row, or a parked copy. A bridge
killed at any point leaves its unacked messages to be redelivered, and the Laravel uuid
(the Relay id) makes a second hand-over of the same job add nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

from aio_pika.abc import AbstractIncomingMessage
from common.dead_letters import Burial
from common.dead_letters.burial import DeadMessage
from common.envelope import Envelope
from common.lifecycle import LifecycleRecorder
from common.outcomes import JobOutcome, Outcome
from common.telemetry import tracing
from opentelemetry.trace import Status, StatusCode

from .forwarding import Forwarder
from .handover import HandOver, NotNow, Peek, Refused, Verdict
from .queues import retry_queue_name
from .reports import Reports
from .wire import attempts_from_headers

log = logging.getLogger("relay.bridge")

_PAUSE_FIRST, _PAUSE_MAX = 0.5, 30.0
_LIFECYCLE = {
    "failed": Outcome.failed,
    "parked": Outcome.parked,
    "requeued": Outcome.requeued,
}


class Stopping(Exception):
    """The bridge stops while a message waits for Relay: it goes back to its queue."""


class Settler:
    """Settles the deliveries of every queue the bridge consumes."""

    def __init__(
        self,
        handover: HandOver,
        burial: Burial,
        reports: Reports,
        forwarder: Callable[[], Forwarder | None],
        recorder: LifecycleRecorder | None = None,
    ) -> None:
        self.handover = handover
        self.burial = burial
        self.reports = reports
        self.forwarder = forwarder
        self.recorder = recorder
        self.stopping = False

    async def settle(self, laravel_queue: str, message: AbstractIncomingMessage) -> bool:
        """Hand `message` (from Laravel queue `laravel_queue`, or its Relay-side retry
        queue) over, or bury it; True when it may be acked, False to hand it back."""
        started = time.monotonic()
        peek = Peek.of(message.body)
        envelope = _envelope(message, peek)
        outcome, error = "requeued", None
        with tracing.consumer_span(retry_queue_name(laravel_queue), envelope) as span:
            try:
                verdict = await self._patiently(laravel_queue, message, peek)
                outcome = verdict.value
            except Refused as refused:
                error = refused.reason
                dead = DeadMessage.delivered(retry_queue_name(laravel_queue), message, envelope)
                outcome = (await self.burial.bury(dead, refused.reason, refused.trace)).value
            except Stopping:
                pass  # handed back as it is
            except Exception as trouble:  # parking failed too: the broker is in trouble
                error = repr(trouble)
                log.exception("could not settle a Laravel message", extra={"queue": laravel_queue})
                await asyncio.sleep(1.0)  # a pause before it comes back, not a hot loop
            if span is not None and error:
                span.set_status(Status(StatusCode.ERROR, error))
        self.reports.count(peek.job_class, outcome)
        duration = time.monotonic() - started
        if log.isEnabledFor(logging.INFO):
            self._log(laravel_queue, peek, envelope, outcome, duration, error)
        # Failures only: an accepted job becomes a Relay job, whose worker records it.
        if self.recorder is not None and outcome in _LIFECYCLE:
            await self.recorder.observe(
                JobOutcome(
                    queue=retry_queue_name(laravel_queue),
                    job_type=peek.job_class or "",
                    message_id=envelope.message_id,
                    attempt=envelope.attempt,
                    outcome=_LIFECYCLE[outcome],
                    duration=duration,
                    wait=None,
                    error=error,
                    headers=envelope.headers,
                    body=message.body,
                )
            )
        return outcome != "requeued"

    @staticmethod
    def _log(
        laravel_queue: str,
        peek: Peek,
        envelope: Envelope,
        outcome: str,
        duration: float,
        error: str | None,
    ) -> None:
        log.info(
            "laravel job %s",
            outcome,
            extra={
                "job": peek.job_class,
                "queue": laravel_queue,
                "message_id": envelope.message_id,
                "attempt": envelope.attempt,
                "duration_ms": round(duration * 1000, 2),
                "outcome": outcome,
                **({"error": error} if error else {}),
            },
        )

    async def _patiently(
        self, laravel_queue: str, message: AbstractIncomingMessage, peek: Peek
    ) -> Verdict:
        """The hand-over, asked again while Relay cannot take the job (NotNow)."""
        pause = _PAUSE_FIRST
        while True:
            try:
                return await self.handover.decide(
                    laravel_queue,
                    message.body,
                    message.headers or {},
                    message.correlation_id,
                    peek,
                    forward=lambda: _forward(self.forwarder(), message),
                )
            except NotNow as trouble:
                if self.stopping:
                    raise Stopping from trouble
                log.warning(
                    "Relay cannot take a Laravel job now; it waits, unacked",
                    extra={"queue": laravel_queue, "retry_in": pause, "error": str(trouble)},
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, _PAUSE_MAX)


async def _forward(forwarder: Forwarder | None, message: AbstractIncomingMessage) -> None:
    assert forwarder is not None, "forwarding asked for without LARAVEL_UNMAPPED_QUEUE"
    await forwarder.forward(message)


def _envelope(message: AbstractIncomingMessage, peek: Peek) -> Envelope:
    """The envelope a Laravel message is recorded under: the job's uuid as its id (when
    readable), its class as its type, Laravel's attempt count, its headers as they came."""
    headers = dict(message.headers or {}) if isinstance(message.headers, dict) else {}
    message_id = peek.job_id or message.message_id or message.correlation_id or str(uuid.uuid4())
    return Envelope(
        message_id=str(message_id),
        job_type=peek.job_class or "",
        correlation_id=message.correlation_id,
        attempt=attempts_from_headers(headers) + 1,
        headers=headers,
    )
