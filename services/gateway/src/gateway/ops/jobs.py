"""Jobs and monitored tags in the ops API: `GET /v1/ops/jobs/{message_id}`, `/v1/ops/tags`."""

from __future__ import annotations

import re

from common.lifecycle import JobRecord, LifecycleStore, MonitoredTag
from common.request_body import RequestBody
from common.web import AdminUser, RuntimeDep
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import Field, field_validator

from ..deps import Settings
from .admin_actions import record_admin_action, request_origin
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
async def monitor_tag(
    body: TagToMonitor, admin: AdminUser, runtime: RuntimeDep, request: Request
) -> MonitoredTag:
    """Pin a tag: its jobs are kept LIFECYCLE_MONITORED_SECONDS and counted."""
    await LifecycleStore(runtime.redis, runtime.settings).monitor(body.tag)
    await record_admin_action(runtime, admin, "tag.monitor", body.tag, request_origin(request))
    return MonitoredTag(tag=body.tag)


@router.delete("/tags/{tag}", status_code=204)
async def stop_monitoring_tag(
    tag: str, admin: AdminUser, runtime: RuntimeDep, request: Request
) -> Response:
    if not await LifecycleStore(runtime.redis, runtime.settings).stop_monitoring(tag):
        raise HTTPException(404, f"{tag} is not monitored; GET /v1/ops/tags lists them")
    await record_admin_action(runtime, admin, "tag.stop_monitoring", tag, request_origin(request))
    return Response(status_code=204)
