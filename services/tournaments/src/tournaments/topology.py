"""The tournaments exchange and its queues: the periodic jobs, round advancement, e-mail."""

from __future__ import annotations

from common.topology import domain

DOMAIN = domain(
    "tournaments",
    check_full="periodic: mark filled tournaments full",
    auto_start="periodic: start full (or due) tournaments and create their first matches",
    expire_matches="periodic: expire matches past their deadline and tell both players",
    warn_deadlines="periodic: warn both players an hour before a match's deadline, once",
    email="one e-mail over SMTP, paced across workers",
    advance="create the next round once a round is settled; crown the champion",
)
CHECK_FULL, AUTO_START, EXPIRE_MATCHES, WARN_DEADLINES, EMAIL, ADVANCE = DOMAIN.queues
