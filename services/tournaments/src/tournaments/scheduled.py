"""The periodic jobs of tournaments: Laravel's `routes/console.php`, as data.

Which job, on which queue, how often. The runtime's scheduler (`python -m
common.scheduling`, the Procfile's `scheduler`) runs them: `schedule` is registered under
the `relay.schedule` entry point (pyproject.toml). The gateway reads the same periods to
show each job's next run. The handlers are in jobs.py.
"""

from __future__ import annotations

import functools

from common.scheduling import PeriodicJob, Schedule
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .contracts import AUTO_START, CHECK_FULL, EXPIRE_MATCHES, NAMESPACE, WARN_DEADLINES


class SchedulePeriods(BaseSettings):
    """Periods in seconds (fractions allowed, e.g. 1 in tests)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    tournaments_every: float = Field(default=300.0, gt=0)  # check_full, auto_start
    deadlines_every: float = Field(default=900.0, gt=0)  # expire_matches, warn_deadlines


def periodic_jobs(tournaments_every: float, deadlines_every: float) -> list[PeriodicJob]:
    """The four jobs, at the given periods."""
    return [
        PeriodicJob("check_full", CHECK_FULL, tournaments_every),
        PeriodicJob("auto_start", AUTO_START, tournaments_every),
        PeriodicJob("expire_matches", EXPIRE_MATCHES, deadlines_every),
        PeriodicJob("warn_deadlines", WARN_DEADLINES, deadlines_every),
    ]


@functools.cache
def schedule() -> Schedule:
    """This domain's schedule, at the periods the environment sets. Slot message ids
    derive from the domain's namespace (contracts.slot_message_id)."""
    periods = SchedulePeriods()
    return Schedule(NAMESPACE, periodic_jobs(periods.tournaments_every, periods.deadlines_every))
