"""The lifecycle records' shapes, their Redis keys and the search tags of a job."""

from __future__ import annotations

import json

from pydantic import BaseModel

_MAX_TAGS = 12
_MAX_PAYLOAD_FOR_TAGS = 64 * 1024


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
