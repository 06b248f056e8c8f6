"""Job lifecycle records for the dashboard, kept in Redis for a retention window.

Like Horizon's recent / failed job lists: every settled attempt leaves a small record
(queue, type, outcome, attempt, runtime, wait, error, tags), recent ones for
LIFECYCLE_RECENT_SECONDS (1 h), failed ones for LIFECYCLE_FAILED_SECONDS (7 days).

The parts: records (the records' shapes, Redis keys and search tags), recorder (a worker
writing them), store (the dashboard reading them) and pruning (retention).
"""

from .recorder import LifecycleRecorder
from .records import (
    AttemptRecord,
    JobRecord,
    Keys,
    MinuteStats,
    MonitoredTag,
    WorkerStatus,
    tags_of,
)
from .store import LifecycleStore

__all__ = [
    "AttemptRecord",
    "JobRecord",
    "Keys",
    "LifecycleRecorder",
    "LifecycleStore",
    "MinuteStats",
    "MonitoredTag",
    "WorkerStatus",
    "tags_of",
]
