"""Tournament jobs and the rules both the gateway and the tournaments worker need.

The periodic jobs (check_full, auto_start, expire_matches, warn_deadlines; scheduled.py)
carry the runtime's `RunPeriodic` payload; a settled round carries `AdvanceRound`;
e-mails carry `SendEmail`, one job per recipient.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Final

from common import scheduling
from common.envelope import Job

# The payload of every periodic job's run (the runtime's scheduler publishes it).
from common.scheduling import RunPeriodic as RunPeriodic
from pydantic import AfterValidator, Field, StringConstraints

# The queues are part of the contract: other domains publish to them from here.
from .topology import (
    ADVANCE as ADVANCE,
)
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


def periodic_job_name(name: str) -> str | None:
    """The short name of a periodic job named either way (`check_full` or the queue
    name `tournaments.check_full`, as the contract spells it); None when unknown."""
    if name in PERIODIC_QUEUES:
        return name
    for short, queue in PERIODIC_QUEUES.items():
        if queue.name == name:
            return short
    return None


# Namespace of every deterministic id this domain derives (warnings, e-mails, slots), so
# a re-run or a redelivery computes the same id and the unique key absorbs the repeat.
NAMESPACE: Final = uuid.UUID("6f1c8a52-3c1e-4d3b-9a57-2f0d5c8e7b11")

MIN_CAPACITY: Final = 2
MAX_CAPACITY: Final = 1024
DEFAULT_MATCH_DEADLINE_MINUTES: Final = 1440

# Deliberately loose (one @, no spaces, a dotted or local domain): the SMTP server is
# the authority on whether a mailbox exists; this only keeps obvious garbage out.
# Spaces are the ASCII ones, spelt out: `\s` means more in Python than in the JSON Schema
# (ECMA) pattern below, and the two must agree on what an address is.
_SPACES = " \t\n\r\f\v"
_EMAIL = re.compile(rf"^[^@{_SPACES}]+@[^@{_SPACES}]+$")


def _email(value: str) -> str:
    value = value.strip(_SPACES)
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError("not an e-mail address (expected name@domain)")
    return value


# The same rule as a pattern, so an API's schema documents it (what `_email` accepts once
# stripped; no NUL, which the gateway refuses in any JSON body).
EMAIL_PATTERN: Final = r"^[ \t\n\r\f\v]*[^@ \t\n\r\f\v\x00]+@[^@ \t\n\r\f\v\x00]+[ \t\n\r\f\v]*$"

EmailAddress = Annotated[str, StringConstraints(pattern=EMAIL_PATTERN), AfterValidator(_email)]


class TournamentStatus(StrEnum):
    open = "open"
    full = "full"
    started = "started"
    finished = "finished"


class MatchStatus(StrEnum):
    pending = "pending"
    done = "done"
    expired = "expired"


class SendEmail(Job):
    """Send one e-mail to one recipient. `id` is deterministic: a repeat is sent once."""

    id: uuid.UUID
    to: EmailAddress
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=100_000)
    tournament_id: uuid.UUID | None = None


class AdvanceRound(Job):
    """Round `round` of a tournament is settled: create the next one, or finish it.

    Round 0 is the start (auto_start): the first round is created. Published with the
    message id `advance_message_id(tournament_id, round)`, so every trigger of the same
    round is the same job; the handler advances only while the tournament is still at
    that round, so a repeat changes nothing.
    """

    tournament_id: uuid.UUID
    round: int = Field(ge=0)


def slot_message_id(job: str, slot: int) -> str:
    """The message id of a scheduled run of `job` (scheduled.py): the same slot always
    gets the same id."""
    return scheduling.slot_message_id(NAMESPACE, job, slot)


def player_message_id(subject_id: uuid.UUID, player_id: uuid.UUID, kind: str) -> uuid.UUID:
    """Id of the notification or e-mail for `player_id` about `subject_id` (a match, or the
    tournament for its final result); `kind` tells which message it is."""
    return uuid.uuid5(NAMESPACE, f"{kind}:{subject_id}:{player_id}")


def advance_message_id(tournament_id: uuid.UUID, round_number: int) -> uuid.UUID:
    """The one id of "round `round_number` of this tournament is settled"."""
    return uuid.uuid5(NAMESPACE, f"advance:{tournament_id}:{round_number}")


def bulk_email_id(bulk_id: uuid.UUID, player_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"bulk:{bulk_id}:{player_id}")
