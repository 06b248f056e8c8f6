"""The Laravel bridge's contract with the rest of Relay: the adapters domains declare for the
Laravel job classes they take (adapters), and what the bridge reports for the ops API,
the CLI, the dashboard and /metrics (status)."""

from .adapters import (
    ENTRY_POINTS,
    Created,
    LaravelAdapter,
    LaravelCall,
    input_error,
    registered_adapters,
)
from .errors import LaravelInputError, php_type
from .files import LaravelFile, LaravelFiles
from .status import (
    JOBS_METRIC,
    LaravelQueue,
    add_job_counts,
    job_counts,
    job_counts_text,
    laravel_queues,
    record_queues,
)

__all__ = [
    "ENTRY_POINTS",
    "JOBS_METRIC",
    "Created",
    "LaravelAdapter",
    "LaravelCall",
    "LaravelFile",
    "LaravelFiles",
    "LaravelInputError",
    "LaravelQueue",
    "add_job_counts",
    "input_error",
    "job_counts",
    "job_counts_text",
    "laravel_queues",
    "php_type",
    "record_queues",
    "registered_adapters",
]
