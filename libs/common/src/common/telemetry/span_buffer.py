"""A bounded in-process buffer of recent traces: the spans of each job, for its dashboard page.

Telescope shows every query, cache call, HTTP call and e-mail of a job. With tracing on,
each process keeps its latest spans here (at most MAX_TRACES traces of MAX_SPANS_PER_TRACE
spans; the oldest trace goes first), and the lifecycle recorder copies a job's spans into
its record, so the gateway can list them without Jaeger. Spans are kept compact: name,
ids, timing, status and a few attributes, each cut short.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

MAX_TRACES = 2000
MAX_SPANS_PER_TRACE = 200
_MAX_ATTRIBUTES = 12
_MAX_VALUE = 300


def span_summary(span: ReadableSpan) -> dict[str, Any]:
    """A span as the job page shows it (JSON-ready)."""
    context = span.get_span_context()
    start = span.start_time or 0
    end = span.end_time or start
    attributes = {
        key: value if isinstance(value, int | float | bool) else str(value)[:_MAX_VALUE]
        for key, value in list((span.attributes or {}).items())[:_MAX_ATTRIBUTES]
    }
    status = span.status.status_code
    return {
        "name": span.name,
        "span_id": f"{context.span_id:016x}" if context else "",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "kind": span.kind.name.lower(),
        "start": start / 1e9,
        "duration_ms": round((end - start) / 1e6, 3),
        "status": "error" if status is StatusCode.ERROR else "ok",
        "error": span.status.description or None,
        "attributes": attributes,
    }


def subtree(spans: list[dict[str, Any]], root_span_id: str) -> list[dict[str, Any]]:
    """The spans under `root_span_id` (itself included), in start order."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(span["parent_id"], []).append(span)
    found = [span for span in spans if span["span_id"] == root_span_id]
    index = 0
    while index < len(found):
        found.extend(children.get(found[index]["span_id"], []))
        index += 1
    return sorted(found, key=lambda span: span["start"])


class RecentTraces(SpanProcessor):
    """Keeps the summaries of the latest traces' ended spans, bounded."""

    def __init__(self, max_traces: int = MAX_TRACES, max_spans: int = MAX_SPANS_PER_TRACE) -> None:
        self.max_traces = max_traces
        self.max_spans = max_spans
        self._traces: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        # Spans end on the event loop and, for exporters, on other threads.
        self._lock = threading.Lock()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return

    def on_end(self, span: ReadableSpan) -> None:
        context = span.get_span_context()
        if context is None:
            return
        trace_id = f"{context.trace_id:032x}"
        summary = span_summary(span)
        with self._lock:
            spans = self._traces.get(trace_id)
            if spans is None:
                spans = self._traces[trace_id] = []
                while len(self._traces) > self.max_traces:
                    self._traces.popitem(last=False)
            if len(spans) < self.max_spans:
                spans.append(summary)

    def spans_under(self, trace_id: str, span_id: str) -> list[dict[str, Any]]:
        """The recorded spans of `trace_id` under `span_id` (a job attempt's consume span)."""
        with self._lock:
            spans = list(self._traces.get(trace_id, ()))
        return subtree(spans, span_id)

    def shutdown(self) -> None:
        with self._lock:
            self._traces.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
