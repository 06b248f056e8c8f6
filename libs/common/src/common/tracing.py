"""OpenTelemetry tracing, with the W3C context carried in message headers."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

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

_memory_exporter: InMemorySpanExporter | None = None


def setup_tracing(service_name: str, exporter: str) -> None:
    """Install a tracer provider whose exporter is chosen by OTEL_TRACES_EXPORTER."""
    global _memory_exporter
    if exporter == "none":
        return
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
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers.update(carrier)


def extract(headers: Mapping[str, Any]) -> Context:
    carrier = {
        key: value.decode() if isinstance(value, bytes) else str(value)
        for key, value in headers.items()
        if key in ("traceparent", "tracestate", "baggage")
    }
    return propagate.extract(carrier)
