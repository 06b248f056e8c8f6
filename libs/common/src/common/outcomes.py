"""What a settled delivery reports to the worker's observers (the lifecycle records)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JobOutcome:
    queue: str
    job_type: str
    message_id: str
    attempt: int
    outcome: str  # done | retried | delayed | failed | parked | duplicate | requeued
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
