"""The audit trail in the ops API: `GET /v1/ops/audit`, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from common.control import AuditRecord
from common.web import AdminUser, RuntimeDep
from fastapi import APIRouter, Query

router = APIRouter()


@router.get("/audit")
async def audit_trail(
    admin: AdminUser,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    action: Annotated[
        str | None,
        Query(max_length=100, pattern=r"^[^\x00]*$", description="a prefix: `key.`, `failed.`"),
    ] = None,
    before: Annotated[datetime | None, Query(description="older than this time")] = None,
) -> list[AuditRecord]:
    """Every admin action and log-in: who (`actor`), what (`action`, `target`), when
    (`at`), from where (`from`)."""
    return await runtime.audit.recent(limit, actor=actor, action=action, before=before)
