"""The consumer: validated payloads in, acks after success, retries through tiers; the only
place that decides retry, delay, bury or park.

A handler is a plain async function of (payload model, JobContext). Its parts:
registry (JobRouter: the handler of each queue), context (JobContext: what a handler may
use), worker (Worker: consuming queues), intake (reading a delivery into its job),
settling (running a handler and settling by outcome), retries (attempts, delays, tiers),
acks (batched acks), autoscale (prefetch following the backlog), process (run_worker).
"""

from ..outcomes import JobObserver, JobOutcome
from .context import AlreadyProcessed, JobContext
from .process import run_worker
from .registry import HandlerFunc, JobRouter, Route
from .retries import max_attempts, retry_delay, tier_for
from .worker import Worker

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
