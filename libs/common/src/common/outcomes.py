"""How a delivery was settled, and what each settled delivery reports to the worker's
observers (the lifecycle records, the dashboard, the alerts)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What the runtime did with a delivery (the `outcome` of logs, metrics and records)."""

    done = "done"  # the handler returned: acked
    duplicate = "duplicate"  # its effect was already committed: acked, nothing done
    retried = "retried"  # a failed attempt: copied to its retry tier with the next attempt
    delayed = "delayed"  # waits in a tier without spending an attempt (throttle, outage)
    failed = "failed"  # dead: stored in the failed-job store
    parked = "parked"  # dead, but the failed-job store was away: on `<queue>.parked`
    requeued = "requeued"  # could not be settled (broker trouble): handed back to its queue


@dataclass
class JobOutcome:
    queue: str
    job_type: str
    message_id: str
    attempt: int
    outcome: Outcome
    duration: float
    wait: float | None
    error: str | None = None
    user_id: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    finished_at: float = field(default_factory=time.time)
    # The attempt's `consume <queue>` span, in hex (None while tracing is off).
    trace_id: str | None = None
    span_id: str | None = None


JobObserver = Callable[[JobOutcome], Awaitable[None]]
