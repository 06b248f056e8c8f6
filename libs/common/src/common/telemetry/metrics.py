"""Prometheus metrics of the job runtime (scraped from each worker and the gateway)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

from ..version import release_version

JOBS_PROCESSED = Counter(
    "relay_jobs_processed", "Jobs handled, by queue and outcome", ["queue", "outcome"]
)
JOB_RUNTIME = Histogram(
    "relay_job_runtime_seconds",
    "Time spent in the handler",
    ["queue"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOB_WAIT = Histogram(
    "relay_job_wait_seconds",
    "Time between publish and the start of the attempt",
    ["queue"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
)
JOBS_IN_FLIGHT = Gauge("relay_jobs_in_flight", "Jobs running now", ["queue"])
WORKER_CONCURRENCY = Gauge("relay_worker_concurrency", "Prefetch per queue", ["queue"])
BREAKER_OPEN = Gauge("relay_breaker_open", "1 while a provider's breaker is open", ["provider"])
LIFECYCLE_DROPPED = Counter(
    "relay_lifecycle_dropped", "Dashboard job records dropped because the buffer was full"
)

# `relay_build_info{version="..."} 1` on every process's /metrics: which release each
# replica runs, so a dashboard shows a deploy's progress.
BUILD = Info("relay_build", "The release this process runs")
BUILD.info({"version": release_version()})
