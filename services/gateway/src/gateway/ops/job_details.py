"""One job as its page shows it: the latest record, every attempt with its spans, and the
failed-job entry when it is dead (Horizon's job page, Telescope's view of its spans)."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import httpx
from common.lifecycle import AttemptRecord, JobRecord, LifecycleStore
from common.runtime import Runtime
from common.telemetry.scrubbing import scrub, scrub_text
from pydantic import BaseModel

from .jaeger import jaeger_spans, trace_link

log = logging.getLogger(__name__)


class JobDetails(BaseModel):
    record: JobRecord
    attempts: list[AttemptRecord]
    # The payload and headers with secrets and phone numbers masked, pretty-printed.
    payload_preview: str
    headers_preview: str
    trace_id: str | None = None
    trace_url: str | None = None
    # The spans of the job's attempts: from Jaeger when JAEGER_UI_URL is set and answers,
    # else those each worker recorded with the attempt.
    spans: list[dict[str, Any]] = []
    spans_source: str = "none"
    failed_job_id: uuid.UUID | None = None


def safe_preview(raw: str, truncated: bool) -> str:
    """A payload for display: JSON pretty-printed with secrets and phone numbers masked."""
    try:
        text = json.dumps(scrub(json.loads(raw)), indent=2, ensure_ascii=False, default=str)
    except ValueError:
        text = scrub_text(raw)
    return text + ("\n… (cut: the failed-job store keeps whole payloads)" if truncated else "")


async def job_details(
    runtime: Runtime, message_id: str, jaeger_ui_url: str = ""
) -> JobDetails | None:
    """Everything recorded about message `message_id`; None once its records expired."""
    store = LifecycleStore(runtime.redis, runtime.settings)
    record = await store.get(message_id)
    if record is None:
        return None
    attempts = await store.attempts(message_id)
    failed = (
        await runtime.failed_jobs.find_by_message(message_id)
        if record.outcome == "failed"
        else None
    )
    trace_id = record.trace_id or next((a.trace_id for a in attempts if a.trace_id), None)
    details = JobDetails(
        record=record,
        attempts=attempts,
        payload_preview=safe_preview(record.payload, len(record.payload) >= 4096),
        headers_preview=json.dumps(scrub(record.headers), indent=2, default=str),
        trace_id=trace_id,
        trace_url=trace_link(jaeger_ui_url, trace_id),
        failed_job_id=failed.id if failed else None,
    )
    recorded = [scrub(span) for attempt in attempts for span in attempt.spans]
    if jaeger_ui_url and trace_id:
        try:
            from_jaeger = await jaeger_spans(jaeger_ui_url, trace_id)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("jaeger unreachable", extra={"error": repr(error)})
            from_jaeger = []
        if from_jaeger:  # empty while Jaeger has not received the spans yet
            details.spans, details.spans_source = from_jaeger, "jaeger"
    if details.spans_source != "jaeger" and recorded:
        details.spans, details.spans_source = recorded, "recorded"
    details.spans = [scrub(span) for span in details.spans]
    return details
