"""One delivery, from the moment it arrives to its settling: validated, traced, run and
settled (common.consumer.settling), then counted in metrics, logged and reported to the
worker's observers (the lifecycle records)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence

from aio_pika.abc import AbstractIncomingMessage
from opentelemetry.trace import Status, StatusCode

from ..envelope import Envelope
from ..outcomes import JobObserver, JobOutcome, Outcome
from ..telemetry import tracing
from .intake import Refused, read_job
from .registry import Route
from .settling import Settler

log = logging.getLogger("relay.jobs")

_FAILED_ATTEMPTS = (Outcome.failed, Outcome.retried, Outcome.parked)


async def process(
    route: Route,
    message: AbstractIncomingMessage,
    settler: Settler,
    observers: Sequence[JobObserver],
) -> None:
    """Settle `message`, delivered on `route`'s queue; never raises, whatever the producer
    sent."""
    queue = route.queue
    envelope = Envelope.from_message(message)
    started = time.monotonic()
    enqueued = envelope.enqueued_at()
    wait = max(0.0, time.time() - enqueued) if enqueued else None
    outcome = Outcome.done
    error: str | None = None
    trace_id = span_id = None
    try:
        try:
            job = read_job(route.model, queue.name, message)
        except Refused as refused:
            # Not retried: the same bytes would be refused again.
            error = str(refused)
            outcome = await settler.refuse(queue, message, envelope, refused)
            return
        with tracing.consumer_span(queue.name, envelope) as span:
            trace_id, span_id = tracing.span_ids(span)
            outcome, error = await settler.run(route, job, message, envelope)
            if span is not None and outcome in _FAILED_ATTEMPTS:
                span.set_status(Status(StatusCode.ERROR, error))
    except Exception as unexpected:
        # Publishing a retry or a parked copy failed (broker trouble): hand the
        # message back to the queue after a pause that grows each time it comes back.
        outcome, error = Outcome.requeued, repr(unexpected)
        log.exception("could not settle message; requeueing", extra={"queue": queue.name})
        await settler.requeue(queue.name, message, envelope)
    finally:
        duration = time.monotonic() - started
        route.meters.processed(outcome).inc()
        route.meters.runtime.observe(duration)
        if wait is not None:
            route.meters.wait.observe(wait)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "job %s",
                outcome,
                extra={
                    "job": envelope.job_type,
                    "queue": queue.name,
                    "message_id": envelope.message_id,
                    "attempt": envelope.attempt,
                    "duration_ms": round(duration * 1000, 2),
                    "outcome": outcome,
                    **({"error": error} if error else {}),
                },
            )
        if observers:
            record = JobOutcome(
                queue=queue.name,
                job_type=envelope.job_type,
                message_id=envelope.message_id,
                attempt=envelope.attempt,
                outcome=outcome,
                duration=duration,
                wait=wait,
                error=error,
                user_id=envelope.user_id,
                headers=envelope.headers,
                body=message.body,
                trace_id=trace_id,
                span_id=span_id,
            )
            for observer in observers:
                with contextlib.suppress(Exception):
                    await observer(record)
