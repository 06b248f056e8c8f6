"""Who does an admin action, from where, and the one place its audit record is written.

Every admin action (ops API, dashboard, `relay`) and every dashboard log-in goes through
`record`: a row of `runtime.audit_log` (GET /v1/ops/audit, `relay audit`, the dashboard's
audit panel) and one structured line on the `relay.audit` logger.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from typing import Any, Protocol


class AuditTrail(Protocol):
    """Where records go: `common.control.AuditLog`, or the CLI's trail that tolerates an
    unreachable Postgres."""

    async def record(
        self, actor: str, action: str, target: str, origin: str, **details: Any
    ) -> None: ...


@dataclass(frozen=True)
class Actor:
    """Who acts (a key's user, a dashboard session's user, `cli:<os user>`) and from where
    (the client's address, `cli@<host>`); `key_id` is the API key used, when one was."""

    id: str
    origin: str
    key_id: str | None = None


def cli_actor() -> Actor:
    """Whoever runs `relay`: the OS user, from `cli@<host>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", f"cli@{socket.gethostname()}")


async def record(audit: AuditTrail, actor: Actor, action: str, target: str, **details: Any) -> None:
    """Record one action in the audit trail (the actor's key id goes in its details)."""
    if actor.key_id:
        details.setdefault("key_id", actor.key_id)
    await audit.record(actor.id, action, target, actor.origin, **details)
