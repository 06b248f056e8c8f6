"""The consumer: validated payloads in, acks after success, retries through tiers; the only
place that decides retry, delay, bury or park.

A handler is a plain async function of (payload model, JobContext). Its parts: registry
(JobRouter: the handler of each queue), context (JobContext: what a handler may use),
worker (Worker: consuming queues), delivery (one delivery from arrival to settling),
intake (reading a delivery into its job), decisions (wait, retry or bury: the only place
that decides), settling (carrying a decision out), results (Unfinished parts, the Death an
on_dead hook is told), retries (each delivery's policy: attempts, delays, time limit,
tiers), acks (batched acks), autoscale (prefetch following the backlog), process
(run_worker).
"""

from ..outcomes import JobObserver, JobOutcome, Outcome
from .context import AlreadyProcessed, JobContext
from .process import run_worker
from .registry import JobRouter, Route
from .results import Death, HandlerFunc, Unfinished
from .retries import RetryPolicy, policy_for, policy_headers, queue_policy, retry_tier, wait_tier
from .worker import Worker

__all__ = [
    "AlreadyProcessed",
    "Death",
    "HandlerFunc",
    "JobContext",
    "JobObserver",
    "JobOutcome",
    "JobRouter",
    "Outcome",
    "RetryPolicy",
    "Route",
    "Unfinished",
    "Worker",
    "policy_for",
    "policy_headers",
    "queue_policy",
    "retry_tier",
    "run_worker",
    "wait_tier",
]
