"""What a package declares to have its jobs run periodically, and what each run carries.

A package names a function returning its `Schedule` under the `relay.schedule` entry
point group (as it names its topology under `relay.topology`); the scheduler process
calls each at start-up, so periods are read from that package's own settings then.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points

from ..envelope import Job
from .slots import PeriodicJob

ENTRY_POINTS = "relay.schedule"


class RunPeriodic(Job):
    """Run one periodic job now. `slot` is set when the scheduler published it, and
    `requested_by` when an operator asked for a run outside the schedule."""

    job: str
    slot: int | None = None
    requested_by: str | None = None


@dataclass(frozen=True)
class Schedule:
    """A package's periodic jobs, and the namespace its slot message ids derive from (so
    a slot's message id never changes, whoever publishes it)."""

    namespace: uuid.UUID
    jobs: Sequence[PeriodicJob]

    def message_id(self, job: str, slot: int) -> str:
        return slot_message_id(self.namespace, job, slot)


def slot_message_id(namespace: uuid.UUID, job: str, slot: int) -> str:
    """The message id of a scheduled run: the same slot always gets the same id."""
    return str(uuid.uuid5(namespace, f"schedule:{job}:{slot}"))


@functools.cache
def registered_schedules() -> tuple[Schedule, ...]:
    """Every installed package's schedule (the `relay.schedule` entry points), by name.

    Job names are the keys of the slot claims, so two packages may not share one."""
    found: list[Schedule] = []
    for entry in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        declare: Callable[[], object] = entry.load()
        schedule = declare()
        if not isinstance(schedule, Schedule):
            raise TypeError(f"entry point {entry.value} does not return a Schedule")
        found.append(schedule)
    names = [job.name for schedule in found for job in schedule.jobs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"periodic jobs declared twice: {', '.join(repeated)}")
    return tuple(found)
