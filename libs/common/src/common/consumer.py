"""The consumer runtime: validated payloads in, acks after success, retries through tiers.

A handler is a plain async function of (payload model, JobContext). The runtime owns
acks, timeouts, retries, the failed-job store, idempotency, traces, logs and metrics.
Its parts, each in a module of its own:
- registry: JobRouter, the handler of each queue and its payload model;
- job_context: JobContext, what a handler may use;
- delivery: Worker, consuming the queues and handing each delivery on;
- settling: running a handler and settling by outcome (ack, retry tier, bury, requeue);
- acks: batched `multiple` acks per queue channel;
- retry_tiers: attempts, retry delays and the tier a waiting job is parked in;
- outcome: JobOutcome, what each settled delivery reports to observers;
- worker_process: run_worker, a worker process from start to signal to drain.
"""

from .delivery import Worker
from .job_context import AlreadyProcessed, JobContext
from .outcome import JobObserver, JobOutcome
from .registry import HandlerFunc, JobRouter, Route
from .retry_tiers import max_attempts, retry_delay, tier_for
from .worker_process import run_worker

__all__ = [
    "AlreadyProcessed",
    "HandlerFunc",
    "JobContext",
    "JobObserver",
    "JobOutcome",
    "JobRouter",
    "Route",
    "Worker",
    "max_attempts",
    "retry_delay",
    "run_worker",
    "tier_for",
]
