"""Operator controls: pause, continue and clear queues and terminate workers (queues: the
operator's side; worker: a worker following them), and the audit trail of admin actions."""

from .audit import AuditLog, AuditRecord
from .queues import ControlCommand, PausedQueue, QueueControl, is_work_queue, paused_queues
from .worker import Controllable, WorkerControl

__all__ = [
    "AuditLog",
    "AuditRecord",
    "ControlCommand",
    "Controllable",
    "PausedQueue",
    "QueueControl",
    "WorkerControl",
    "is_work_queue",
    "paused_queues",
]
