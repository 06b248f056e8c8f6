"""Jobs and monitored tags in the ops API: `GET /v1/ops/jobs/{message_id}`, `/v1/ops/tags`."""

from __future__ import annotations

import re

from common.lifecycle import JobRecord, LifecycleStore, MonitoredTag
from common.request_body import RequestBody
from common.web import AdminUser, RuntimeDep
from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import Field, field_validator

from ..admin import tags
from ..deps import AdminActor, Settings
from .job_details import JobDetails, job_details

router = APIRouter()

# `name:value`: the name in ASCII letters, digits, `_`, `.` and `-`; the value without
# spaces or control characters. Spelled with explicit ranges, not `\w` or `\s`, which mean
# different characters to Python, to pydantic's Rust regex and to JSON Schema's ECMA regex.
TAG_PATTERN = r"^[A-Za-z0-9_.-]+:[^\x00-\x20\x7f]+$"


class TagToMonitor(RequestBody):
    tag: str = Field(max_length=200, pattern=TAG_PATTERN, examples=["campaign:4f0c…", "user:42"])

    @field_validator("tag", mode="before")
    @classmethod
    def name_value(cls, value: object) -> object:
        if isinstance(value, str) and not re.fullmatch(TAG_PATTERN.strip("^$"), value):
            raise ValueError("a tag is `name:value`, as the dashboard shows them (user:42)")
        return value


@router.get("/jobs")
async def search_jobs(
    admin: AdminUser,
    runtime: RuntimeDep,
    q: str = Query("", max_length=200, description="message id, tag (sms:ID, user:U) or bare id"),
    limit: int = Query(50, ge=1, le=500),
) -> list[JobRecord]:
    """Recent jobs, newest first, or those matching `q` (the dashboard's search)."""
    return await LifecycleStore(runtime.redis, runtime.settings).recent(limit, q)


@router.get("/jobs/{message_id}")
async def job(
    message_id: str, admin: AdminUser, runtime: RuntimeDep, settings: Settings
) -> JobDetails:
    """A job's latest record, every attempt with its error, duration and spans."""
    details = await job_details(runtime, message_id, settings.jaeger_ui_url)
    if details is None:
        raise HTTPException(
            404, f"no record of job {message_id}: records are kept for the retention window"
        )
    return details


@router.get("/tags")
async def monitored_tags(admin: AdminUser, runtime: RuntimeDep) -> list[MonitoredTag]:
    """The monitored tags, with the jobs done and failed under each since it was pinned."""
    return await LifecycleStore(runtime.redis, runtime.settings).monitored()


@router.post("/tags", status_code=201)
async def monitor_tag(body: TagToMonitor, actor: AdminActor, runtime: RuntimeDep) -> MonitoredTag:
    """Pin a tag: its jobs are kept LIFECYCLE_MONITORED_SECONDS and counted."""
    return await tags.monitor(runtime, actor, body.tag)


@router.delete("/tags/{tag}", status_code=204)
async def stop_monitoring_tag(tag: str, actor: AdminActor, runtime: RuntimeDep) -> Response:
    if not await tags.stop_monitoring(runtime, actor, tag):
        raise HTTPException(404, f"{tag} is not monitored; GET /v1/ops/tags lists them")
    return Response(status_code=204)
