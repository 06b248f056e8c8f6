"""Sentry, as the seed systems used it: unhandled errors of the gateway and the last
failure of every job, tagged, with personal data scrubbed.

Only with SENTRY_DSN set is the official sentry-sdk imported and started; unset, nothing
is loaded. A job is reported when it dies (its last attempt failed, a permanent error, an
invalid payload): tagged with queue, job type, message id, attempt and trace id. Every
event passes through common.telemetry.scrubbing first: no keys or secrets, no full phone numbers.
SENTRY_ENVIRONMENT and SENTRY_RELEASE are read by sentry-sdk itself.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace

from . import tracing
from .scrubbing import scrub

log = logging.getLogger(__name__)

_enabled = False


def setup_error_reports(dsn: str, service: str) -> None:
    """Start sentry-sdk for this process when `dsn` is set (once)."""
    global _enabled
    if not dsn or _enabled:
        return
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        server_name=service,
        send_default_pii=False,
        before_send=_scrubbed,
        before_breadcrumb=lambda crumb, hint: scrub(crumb),
    )
    sentry_sdk.set_tag("service", service)
    _enabled = True
    log.info("error reports on (sentry)", extra={"service": service})


def _scrubbed(event: Any, hint: Any) -> Any:
    return scrub(event)


def job_died(
    exception: BaseException | None,
    error: str,
    *,
    queue: str,
    job_type: str,
    message_id: str,
    attempt: int,
) -> None:
    """Report a job's final failure (no-op without SENTRY_DSN)."""
    if not _enabled:
        return
    import sentry_sdk

    trace_id, _ = tracing.span_ids(trace.get_current_span())
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("queue", queue)
        scope.set_tag("job_type", job_type)
        scope.set_tag("message_id", message_id)
        scope.set_tag("attempt", str(attempt))
        if trace_id:
            scope.set_tag("trace_id", trace_id)
        scope.set_context("job", {"error": error, "queue": queue, "attempt": attempt})
        if exception is not None:
            sentry_sdk.capture_exception(exception)
        else:
            sentry_sdk.capture_message(f"{job_type} on {queue} died: {error}", level="error")
