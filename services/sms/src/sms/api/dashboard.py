"""The sms panels of the dashboard: the latest campaigns' progress."""

from __future__ import annotations

import uuid
from typing import Any

from common.runtime import Runtime
from pydantic import BaseModel

from . import campaign_store
from .campaigns import campaign_status


class Campaigns(BaseModel):
    available: bool
    note: str = ""
    rows: list[dict[str, Any]] = []


async def campaign_progress(runtime: Runtime) -> Campaigns:
    """Progress of the latest campaigns, as GET /v1/campaigns/{id} reports it (the counts
    kept on each campaign row): sent includes delivered, total = sent + failed + skipped +
    pending, and the status says when a campaign is paused or cancelled."""
    async with runtime.pool.acquire() as connection:
        table = await connection.fetchval("SELECT to_regclass('sms.campaigns')::text")
        if table is None:
            return Campaigns(available=False, note="the sms schema is not migrated yet")
        rows = await connection.fetch(
            """
            SELECT id, name, user_id, state, total, released_chunks, created_at,
                sent, failed, skipped
            FROM sms.campaigns ORDER BY created_at DESC LIMIT 10
            """
        )
    result = []
    for row in rows:
        item = dict(row)
        finished = item["sent"] + item["failed"] + item["skipped"]
        item["pending"] = max(0, item["total"] - finished)
        item["percent"] = round(100 * finished / item["total"]) if item["total"] else 100
        item["status"] = campaign_status(item["state"], item["pending"], item["released_chunks"])
        result.append(item)
    return Campaigns(available=True, rows=result)


async def campaign_action(runtime: Runtime, item: str, verb: str) -> None:
    """The campaign list's buttons: pause, resume or cancel any user's campaign."""
    if verb not in campaign_store.CONTROL:
        raise ValueError(f"{verb!r}: one of {', '.join(campaign_store.CONTROL)}")
    try:
        campaign_id = uuid.UUID(item)
    except ValueError as error:
        raise ValueError(f"{item!r} is not a campaign id") from error
    await campaign_store.control_campaign(runtime.pool, campaign_id, None, verb)
