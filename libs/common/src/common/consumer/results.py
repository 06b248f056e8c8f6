"""What a handler hands back to the runtime besides raising: the parts of a batch job that
did not finish, and what its `on_dead` hook is told when a job (or part) dies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..envelope import Job
from ..outcomes import Outcome

if TYPE_CHECKING:
    from .context import JobContext


@dataclass(frozen=True)
class Unfinished:
    """A part of a batch job that did not finish, returned by its handler.

    `part` is a job of the same queue holding just that part, `message_id` its own stable
    id, `failure` what it raised (Permanent, RetryLater, or any error). The runtime settles
    each part as it would a whole job: wait, retry with the next attempt, or bury and call
    the handler's `on_dead` hook. The batch's own message is acked once every part is
    durably settled.
    """

    part: Job
    message_id: str
    failure: BaseException


@dataclass(frozen=True)
class Death:
    """Why a job (or part) died, as its `on_dead` hook is told."""

    error: str  # what the failed-job store records
    cause: BaseException | None
    outcome: Outcome  # failed (in the store) or parked (the store was away)

    @property
    def reason(self) -> str:
        """The cause's own words (a Permanent's message), else the recorded error."""
        text = str(self.cause) if self.cause is not None else ""
        return text or self.error


HandlerResult = Sequence[Unfinished] | None
HandlerFunc = Callable[[Any, "JobContext"], Awaitable[HandlerResult]]
OnDead = Callable[[Any, "JobContext", Death], Awaitable[None]]
