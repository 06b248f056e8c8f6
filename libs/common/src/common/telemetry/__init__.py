"""Telemetry: traces (tracing, span_buffer), structured logs (logs), Prometheus metrics
(metrics), Sentry reports (error_reports) and what is scrubbed from them (scrubbing).

Imported by module (`from common.telemetry import tracing`): each pulls in its own SDK, and
a process loads only the ones it uses.
"""
