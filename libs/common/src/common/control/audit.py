"""The audit trail: who did what, to what, when and from where, kept in Postgres.

Every admin action (through the ops API, the dashboard or the CLI) and every log-in is
recorded here, and also logged as one line on the `relay.audit` logger. A record that
cannot be stored (Postgres down) is still logged, with `stored: false`, so the action it
describes is never hidden; the action itself is not undone for it.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from ..safe_text import jsonable, storable

log = logging.getLogger("relay.audit")

_TEXT_LIMIT = 500


class AuditRecord(BaseModel):
    """One audited action, as `GET /v1/ops/audit` shows it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    at: datetime
    actor: str
    action: str
    target: str
    origin: str = Field(alias="from", description="the client address, or cli@<host>")
    details: dict[str, Any] = {}


class AuditLog:
    """Writes and reads `runtime.audit_log`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def record(
        self, actor: str, action: str, target: str, origin: str, **details: Any
    ) -> None:
        """Store one record (and log it); a storage failure is logged, never raised."""
        fields = {
            "actor": storable(actor, _TEXT_LIMIT),
            "action": storable(action, _TEXT_LIMIT),
            "target": storable(target, _TEXT_LIMIT),
            "from": storable(origin, _TEXT_LIMIT),
        }
        kept = jsonable(details)
        stored = True
        try:
            await self.pool.execute(
                """
                INSERT INTO runtime.audit_log (actor, action, target, origin, details)
                VALUES ($1, $2, $3, $4, $5::jsonb)
                """,
                fields["actor"],
                fields["action"],
                fields["target"],
                fields["from"],
                _json(kept),
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            stored = False
            log.error("audit record not stored", extra={**_logged(fields), "error": repr(error)})
        log.info(
            "%s %s by %s",
            fields["action"],
            fields["target"],
            fields["actor"],
            # `origin`, not `from`: log scrubbing masks digits under phone-like names.
            extra={**_logged(fields), "at": time.time(), "stored": stored, **kept},
        )

    async def recent(
        self,
        limit: int = 100,
        *,
        actor: str | None = None,
        action: str | None = None,
        before: datetime | None = None,
    ) -> list[AuditRecord]:
        """Newest first; `action` matches a prefix (`key.` is every key change)."""
        rows = await self.pool.fetch(
            """
            SELECT at, actor, action, target, origin, details FROM runtime.audit_log
            WHERE ($1::text IS NULL OR actor = $1)
              AND ($2::text IS NULL OR starts_with(action, $2))
              AND ($3::timestamptz IS NULL OR at < $3)
            ORDER BY at DESC, id DESC
            LIMIT $4
            """,
            actor,
            action,
            before,
            limit,
        )
        return [
            AuditRecord(
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                target=row["target"],
                origin=row["origin"],
                details=_loads(row["details"]),
            )
            for row in rows
        ]


def _logged(fields: dict[str, str]) -> dict[str, str]:
    return {("origin" if name == "from" else name): value for name, value in fields.items()}


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _loads(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}
