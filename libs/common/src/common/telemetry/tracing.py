"""OpenTelemetry tracing, with the W3C context carried in message headers.

With tracing on, asyncpg queries, aiohttp client calls and Redis commands are spans too
(the official instrumentations), and SMTP sends get a client span (`client_span`): a job's
spans hang under its `consume <queue>` span. A bounded buffer of recent traces
(common.telemetry.span_buffer) lets the dashboard list a job's spans without Jaeger.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import Attributes

from .span_buffer import RecentTraces

if TYPE_CHECKING:
    from ..envelope import Envelope

_recent: RecentTraces | None = None
_enabled = False


class _NoOrphanClientSpans(Sampler):
    """Roots: drop a client call made outside any request or job.

    The instrumented libraries also serve background loops (dashboard records, heartbeats,
    alert checks): a trace per Redis pipeline every half second would bury the jobs'.
    """

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "NoOrphanClientSpans"


def setup_tracing(service_name: str, exporter: str) -> None:
    """Install a tracer provider whose exporter is chosen by OTEL_TRACES_EXPORTER."""
    global _enabled, _recent
    if exporter == "none" or _enabled:
        return
    _enabled = True
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(root=_NoOrphanClientSpans()),
    )
    _recent = RecentTraces()
    provider.add_span_processor(_recent)
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    # "memory": no export; the spans live only in the buffer of recent traces (job pages).
    trace.set_tracer_provider(provider)
    _instrument_libraries(provider)


def _instrument_libraries(provider: TracerProvider) -> None:
    """Spans for every query, HTTP client call and Redis command (official instrumentations)."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentors = (
        AsyncPGInstrumentor(),  # type: ignore[no-untyped-call]
        AioHttpClientInstrumentor(),
        RedisInstrumentor(),
    )
    for instrumentor in instrumentors:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)


def recent_traces() -> RecentTraces | None:
    """This process's buffer of recent traces (None while tracing is off)."""
    return _recent


def client_span(name: str, attributes: dict[str, Any]) -> AbstractContextManager[Span | None]:
    """A client span around a call no instrumentation covers (an SMTP send)."""
    if not _enabled:
        return contextlib.nullcontext()
    return tracer().start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)


def span_ids(span: Span | None) -> tuple[str | None, str | None]:
    """(trace id, span id) of `span` in hex, as Jaeger shows them; (None, None) without one."""
    if span is None:
        return None, None
    context = span.get_span_context()
    if not context.is_valid:
        return None, None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def tracer() -> trace.Tracer:
    return trace.get_tracer("relay")


def inject(headers: MutableMapping[str, Any]) -> None:
    """Write the current trace context (traceparent, tracestate) into `headers`."""
    if not _enabled:
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers.update(carrier)


def extract(headers: Mapping[str, Any]) -> Context:
    carrier = {
        key: value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for key, value in headers.items()
        if key in ("traceparent", "tracestate", "baggage")
    }
    return propagate.extract(carrier)


def consumer_span(queue: str, envelope: Envelope) -> AbstractContextManager[Span | None]:
    """The span of one attempt, child of the publisher's context; nothing when tracing is off."""
    if not _enabled:
        return contextlib.nullcontext()
    return tracer().start_as_current_span(
        f"consume {queue}",
        context=extract(envelope.headers),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.destination.name": queue,
            "messaging.message.id": envelope.message_id,
            "relay.attempt": envelope.attempt,
        },
    )
