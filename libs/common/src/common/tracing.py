"""OpenTelemetry tracing, with the W3C context carried in message headers."""

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
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind

if TYPE_CHECKING:
    from .envelope import Envelope

_memory_exporter: InMemorySpanExporter | None = None
_enabled = False


def setup_tracing(service_name: str, exporter: str) -> None:
    """Install a tracer provider whose exporter is chosen by OTEL_TRACES_EXPORTER."""
    global _memory_exporter, _enabled
    if exporter == "none":
        return
    _enabled = True
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "memory":
        _memory_exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_memory_exporter))
    trace.set_tracer_provider(provider)


def memory_exporter() -> InMemorySpanExporter | None:
    """The in-memory exporter, when OTEL_TRACES_EXPORTER=memory (tests)."""
    return _memory_exporter


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
