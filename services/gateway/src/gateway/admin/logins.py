"""Dashboard log-ins, recorded in the audit trail beside the admin actions (the session
itself is the dashboard's: `gateway/dashboard/session.py`)."""

from __future__ import annotations

from .actor import Actor, AuditTrail, record

LOGIN = "dashboard.login"
LOGIN_FAILED = "dashboard.login_failed"


async def logged_in(audit: AuditTrail, actor: Actor) -> None:
    """An admin key opened a dashboard session."""
    await record(audit, actor, LOGIN, "dashboard")


async def login_refused(audit: AuditTrail, actor: Actor, reason: str) -> None:
    """A log-in was refused: `actor` is the key's user, or `unknown`; never the key itself,
    only its id when it is a stored key (`key_id` is recorded even when there is none)."""
    await record(audit, actor, LOGIN_FAILED, "dashboard", reason=reason, key_id=actor.key_id)
