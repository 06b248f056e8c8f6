"""Periodic jobs: each fires once per slot of its period across every scheduler replica
(slots: the slot arithmetic and its Redis claim)."""

from .slots import PeriodicJob, SlotLock

__all__ = ["PeriodicJob", "SlotLock"]
