"""The lifecycle records' shapes, their Redis keys and the search tags of a job."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

_MAX_TAGS = 12
_MAX_PAYLOAD_FOR_TAGS = 64 * 1024
# How much of a payload a record keeps for the job page (the failed-job store keeps it all).
PAYLOAD_PREVIEW = 4096
# Attempts kept per message (a job parked many times by a throttle keeps its latest ones).
ATTEMPTS_KEPT = 20


class JobRecord(BaseModel):
    """The latest settled attempt of one message."""

    id: str
    queue: str
    type: str
    outcome: str
    attempt: int
    duration: float
    wait: float | None = None
    error: str | None = None
    user_id: str | None = None
    tags: list[str] = []
    at: float
    # The start of the payload as received (PAYLOAD_PREVIEW bytes), its AMQP headers, the
    # attempt's trace and the worker that ran it.
    payload: str = ""
    headers: dict[str, Any] = {}
    trace_id: str | None = None
    worker: str | None = None


class AttemptRecord(BaseModel):
    """One settled attempt of a message, with the spans recorded under it."""

    attempt: int
    outcome: str
    duration: float
    wait: float | None = None
    error: str | None = None
    at: float
    worker: str | None = None
    trace_id: str | None = None
    spans: list[dict[str, Any]] = []


class MonitoredTag(BaseModel):
    """A tag an operator pinned, with the jobs settled under it since."""

    tag: str
    done: int = 0
    failed: int = 0


class WorkerStatus(BaseModel):
    """A worker process as its heartbeat describes it."""

    id: str
    service: str
    host: str
    pid: int
    concurrency: dict[str, int]
    in_flight: int
    started_at: float
    seen_at: float


class MinuteStats(BaseModel):
    """Attempts settled during one minute, over every queue."""

    minute: int  # epoch seconds of the minute's start
    done: int = 0
    failed: int = 0
    retried: int = 0
    other: int = 0
    runtime_sum: float = 0.0

    @property
    def processed(self) -> int:
        return self.done + self.failed + self.retried

    @property
    def average_runtime(self) -> float:
        attempts = self.done + self.failed + self.retried + self.other
        return self.runtime_sum / attempts if attempts else 0.0


class Keys:
    """Every Redis key of the lifecycle records, under REDIS_KEY_PREFIX."""

    def __init__(self, prefix: str) -> None:
        self.base = f"{prefix}ops:"
        self.recent = self.base + "recent"
        self.failed = self.base + "failed"
        self.workers = self.base + "workers"
        self.last_start = self.base + "last-start"
        self.backlog_since = self.base + "backlog-since"

    def job(self, message_id: str) -> str:
        return f"{self.base}job:{message_id}"

    def tag(self, tag: str) -> str:
        return f"{self.base}tag:{tag}"

    def minute(self, minute: int) -> str:
        return f"{self.base}minute:{minute}"

    def worker(self, worker_id: str) -> str:
        return f"{self.base}worker:{worker_id}"

    def attempts(self, message_id: str) -> str:
        return f"{self.base}attempts:{message_id}"

    @property
    def monitored(self) -> str:
        return f"{self.base}monitored"

    def monitored_counts(self, tag: str) -> str:
        return f"{self.base}monitored:{tag}"


def jsonable_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """AMQP headers as JSON values (bytes decoded, anything else as text)."""
    return {
        key: value.decode(errors="replace")
        if isinstance(value, bytes)
        else value
        if isinstance(value, str | int | float | bool) or value is None
        else str(value)
        for key, value in headers.items()
    }


def tags_of(user_id: str | None, job_type: str, body: bytes) -> list[str]:
    """Search tags: the user, the job type and every `<name>_id` field of the payload.

    `order_id` becomes `order:<id>`; each id is also indexed as `any:<id>` so a
    bare id pasted into the search box finds its jobs.
    """
    tags = [f"type:{job_type}"] if job_type else []
    if user_id:
        tags += [f"user:{user_id}", f"any:{user_id}"]
    if body and len(body) <= _MAX_PAYLOAD_FOR_TAGS:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            for name, value in payload.items():
                if name.endswith("_id") and isinstance(value, str | int) and value != "":
                    tags += [f"{name[:-3]}:{value}", f"any:{value}"]
    return list(dict.fromkeys(tags))[:_MAX_TAGS]
