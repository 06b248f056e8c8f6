"""Admin actions, recorded in the audit trail with who did what, to what, when and from where.

The ops API, the dashboard and the CLI all record their actions here: a row of
`runtime.audit_log` (GET /v1/ops/audit, `relay audit`, the dashboard's audit panel) and
one structured line on the `relay.audit` logger.
"""

from __future__ import annotations

import getpass
import socket
from typing import Any

from common.runtime import Runtime
from common.web import Caller, client_address
from fastapi import Request


def request_origin(request: Request) -> str:
    """Where an HTTP action came from: the client's address."""
    return client_address(request)


def cli_actor() -> tuple[str, str]:
    """Who runs the CLI (the OS user) and from where (`cli@<host>`)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}", f"cli@{socket.gethostname()}"


async def record_admin_action(
    runtime: Runtime, actor: str | Caller, action: str, target: str, origin: str, **details: Any
) -> None:
    """Record one admin action in the audit trail (a caller's key id goes in its details)."""
    if isinstance(actor, Caller):
        if actor.key_id:
            details.setdefault("key_id", actor.key_id)
        actor = actor.id
    await runtime.audit.record(actor, action, target, origin, **details)
