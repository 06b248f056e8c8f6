"""Dead letters: the failed-job store (Laravel's `failed_jobs`), burying a dead message in it
or parking it on `<queue>.parked` when the store is away, and draining parked ones back."""

from .burial import Burial
from .drain import drain_parked
from .failed_jobs import FailedJob, FailedJobStore

__all__ = ["Burial", "FailedJob", "FailedJobStore", "drain_parked"]
