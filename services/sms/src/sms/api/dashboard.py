"""The sms panels of the dashboard: the latest campaigns' progress."""

from __future__ import annotations

from typing import Any

from common.runtime import Runtime
from pydantic import BaseModel


class Campaigns(BaseModel):
    available: bool
    note: str = ""
    rows: list[dict[str, Any]] = []


async def campaign_progress(runtime: Runtime) -> Campaigns:
    """Progress of the latest campaigns, counted from the sms schema's per-recipient rows.

    Same rules as GET /v1/campaigns/{id}: sent includes delivered, and
    total = sent + failed + skipped + pending in one snapshot.
    """
    async with runtime.pool.acquire() as connection:
        table = await connection.fetchval("SELECT to_regclass('sms.campaigns')::text")
        if table is None:
            return Campaigns(available=False, note="the sms schema is not migrated yet")
        rows = await connection.fetch(
            """
            SELECT c.id, c.name, c.user_id, c.total, c.released_chunks, c.created_at,
                count(m.id) FILTER (WHERE m.status IN ('sent', 'delivered')) AS sent,
                count(m.id) FILTER (WHERE m.status = 'failed') AS failed,
                count(m.id) FILTER (WHERE m.status = 'skipped') AS skipped
            FROM (SELECT * FROM sms.campaigns ORDER BY created_at DESC LIMIT 10) c
            LEFT JOIN sms.messages m ON m.campaign_id = c.id
            GROUP BY c.id, c.name, c.user_id, c.total, c.released_chunks, c.created_at
            ORDER BY c.created_at DESC
            """
        )
    result = []
    for row in rows:
        item = dict(row)
        finished = item["sent"] + item["failed"] + item["skipped"]
        item["pending"] = max(0, item["total"] - finished)
        item["percent"] = round(100 * finished / item["total"]) if item["total"] else 100
        item["status"] = (
            "completed"
            if item["pending"] == 0
            else "sending"
            if item["released_chunks"]
            else "queued"
        )
        result.append(item)
    return Campaigns(available=True, rows=result)
