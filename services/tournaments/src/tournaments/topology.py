"""The tournaments exchange and its queues: the periodic jobs, round advancement, e-mail."""

from __future__ import annotations

from common.topology import domain

DOMAIN = domain(
    "tournaments",
    "check_full",
    "auto_start",
    "expire_matches",
    "warn_deadlines",
    "email",
    "advance",
)
CHECK_FULL, AUTO_START, EXPIRE_MATCHES, WARN_DEADLINES, EMAIL, ADVANCE = DOMAIN.queues
