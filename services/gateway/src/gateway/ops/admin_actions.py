"""Admin actions, logged with who did what, to what, when and from where.

One structured line per action on the `relay.audit` logger (JSON like every log line:
actor, action, target, from, at, and what the action changed). The ops API, the
dashboard and the CLI all record their actions here.
"""

from __future__ import annotations

import getpass
import logging
import socket
import time
from typing import Any

from fastapi import Request

log = logging.getLogger("relay.audit")


def request_origin(request: Request) -> str:
    """Where an HTTP action came from: the client's address."""
    return request.client.host if request.client else "unknown"


def cli_actor() -> tuple[str, str]:
    """Who runs the CLI (the OS user) and from where (`cli@<host>`)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}", f"cli@{socket.gethostname()}"


def record_admin_action(actor: str, action: str, target: str, origin: str, **details: Any) -> None:
    """Log one admin action (the audit trail's line)."""
    log.info(
        "%s %s by %s",
        action,
        target,
        actor,
        extra={
            "actor": actor,
            "action": action,
            "target": target,
            "from": origin,
            "at": time.time(),
            **details,
        },
    )
