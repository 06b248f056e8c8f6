"""Tournament jobs and the rules both the gateway and the tournaments worker need.

The periodic jobs (check_full, auto_start, expire_matches, warn_deadlines) carry a
`RunPeriodic` payload; e-mails carry `SendEmail`, one job per recipient.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Final

from common.envelope import Job
from common.schedule import PeriodicJob
from pydantic import AfterValidator, Field

# The queues are part of the contract: other domains publish to them from here.
from .topology import (
    AUTO_START as AUTO_START,
)
from .topology import (
    CHECK_FULL as CHECK_FULL,
)
from .topology import (
    EMAIL as EMAIL,
)
from .topology import (
    EXPIRE_MATCHES as EXPIRE_MATCHES,
)
from .topology import (
    WARN_DEADLINES as WARN_DEADLINES,
)

# Short names used by the scheduler, `POST /v1/ops/schedule/{job}/run` and the ops API.
PERIODIC_QUEUES: Final = {
    "check_full": CHECK_FULL,
    "auto_start": AUTO_START,
    "expire_matches": EXPIRE_MATCHES,
    "warn_deadlines": WARN_DEADLINES,
}

# Namespace of every deterministic id this domain derives (warnings, e-mails, slots), so
# a re-run or a redelivery computes the same id and the unique key absorbs the repeat.
NAMESPACE: Final = uuid.UUID("6f1c8a52-3c1e-4d3b-9a57-2f0d5c8e7b11")

MIN_CAPACITY: Final = 2
MAX_CAPACITY: Final = 1024
DEFAULT_MATCH_DEADLINE_MINUTES: Final = 1440

# Deliberately loose (one @, no spaces, a dotted or local domain): the SMTP server is
# the authority on whether a mailbox exists; this only keeps obvious garbage out.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError("not an e-mail address (expected name@domain)")
    return value


EmailAddress = Annotated[str, AfterValidator(_email)]


class TournamentStatus(StrEnum):
    open = "open"
    full = "full"
    started = "started"
    finished = "finished"


class MatchStatus(StrEnum):
    pending = "pending"
    done = "done"
    expired = "expired"


class RunPeriodic(Job):
    """Run one periodic job now. `slot` is set when the scheduler published it."""

    job: str
    slot: int | None = None
    requested_by: str | None = None


class SendEmail(Job):
    """Send one e-mail to one recipient. `id` is deterministic: a repeat is sent once."""

    id: uuid.UUID
    to: EmailAddress
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=100_000)
    tournament_id: uuid.UUID | None = None


def periodic_jobs(tournaments_every: float, deadlines_every: float) -> list[PeriodicJob]:
    """The scheduler's table: Laravel's `routes/console.php`, as data."""
    return [
        PeriodicJob("check_full", CHECK_FULL, tournaments_every),
        PeriodicJob("auto_start", AUTO_START, tournaments_every),
        PeriodicJob("expire_matches", EXPIRE_MATCHES, deadlines_every),
        PeriodicJob("warn_deadlines", WARN_DEADLINES, deadlines_every),
    ]


def slot_message_id(job: str, slot: int) -> str:
    """The message id of a scheduled run: the same slot always gets the same id."""
    return str(uuid.uuid5(NAMESPACE, f"schedule:{job}:{slot}"))


def player_message_id(match_id: uuid.UUID, player_id: uuid.UUID, kind: str) -> uuid.UUID:
    """Id of the notification or e-mail about `match_id` for `player_id` (`kind` tells which)."""
    return uuid.uuid5(NAMESPACE, f"{kind}:{match_id}:{player_id}")


def bulk_email_id(bulk_id: uuid.UUID, player_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"bulk:{bulk_id}:{player_id}")


def first_round_pairs(seats: list[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Pairs by seat order (1 v 2, 3 v 4, ...); an odd last player gets a bye.

    The worker does this in SQL (`auto_start`); this is the rule it implements, for tests
    and readers.
    """
    return [(seats[i], seats[i + 1]) for i in range(0, len(seats) - 1, 2)]


def schedule_state_key(prefix: str, job: str) -> str:
    """Redis key where the scheduler records the last slot it published for `job`."""
    return f"{prefix}schedule:last:{job}"
