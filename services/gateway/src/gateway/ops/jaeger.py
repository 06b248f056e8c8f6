"""A trace's spans from Jaeger's query API, in the shape the job page lists them."""

from __future__ import annotations

from typing import Any

import httpx


def trace_link(jaeger_ui_url: str, trace_id: str | None) -> str | None:
    """The trace's page in Jaeger's UI, when JAEGER_UI_URL is set."""
    if not jaeger_ui_url or not trace_id:
        return None
    return f"{jaeger_ui_url.rstrip('/')}/trace/{trace_id}"


def spans_from_jaeger(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Jaeger's `GET /api/traces/{id}` answer as span summaries (common.telemetry.span_buffer's shape)."""
    spans: list[dict[str, Any]] = []
    for trace in answer.get("data") or []:
        processes = trace.get("processes") or {}
        for span in trace.get("spans") or []:
            parents = [
                ref["spanID"]
                for ref in span.get("references") or []
                if ref.get("refType") == "CHILD_OF"
            ]
            tags = {tag["key"]: tag.get("value") for tag in span.get("tags") or []}
            service = processes.get(span.get("processID"), {}).get("serviceName", "")
            error = tags.get("error") in (True, "true")
            spans.append(
                {
                    "name": span.get("operationName", ""),
                    "span_id": span.get("spanID", ""),
                    "parent_id": parents[0] if parents else None,
                    "kind": str(tags.pop("span.kind", "")),
                    "start": span.get("startTime", 0) / 1e6,
                    "duration_ms": span.get("duration", 0) / 1000,
                    "status": "error" if error else "ok",
                    "error": tags.get("otel.status_description"),
                    "attributes": {"service": service, **tags},
                }
            )
    return sorted(spans, key=lambda span: span["start"])


async def jaeger_spans(jaeger_ui_url: str, trace_id: str) -> list[dict[str, Any]]:
    """Every span Jaeger holds for `trace_id` (all processes); raises httpx.HTTPError."""
    url = f"{jaeger_ui_url.rstrip('/')}/api/traces/{trace_id}"
    async with httpx.AsyncClient(timeout=3) as client:
        response = await client.get(url)
        response.raise_for_status()
    return spans_from_jaeger(response.json())
