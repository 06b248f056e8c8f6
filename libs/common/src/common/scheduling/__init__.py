"""Periodic jobs: each fires once per slot of its period across every scheduler replica.
A package declares its jobs (schedule: `Schedule`, the `relay.schedule` entry point);
`python -m common.scheduling` runs them all (runner), claiming slots in Redis (slots) and
noting each job's last run for the ops API (state)."""

from .runner import Scheduler, run_scheduler
from .schedule import RunPeriodic, Schedule, registered_schedules, slot_message_id
from .slots import PeriodicJob, SlotLock
from .state import LastRun, last_run, schedule_state_key

__all__ = [
    "LastRun",
    "PeriodicJob",
    "RunPeriodic",
    "Schedule",
    "Scheduler",
    "SlotLock",
    "last_run",
    "registered_schedules",
    "run_scheduler",
    "schedule_state_key",
    "slot_message_id",
]
