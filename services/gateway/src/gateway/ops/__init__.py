"""The ops API (admin keys): queues and the failed-job runbook."""

from .routes import router

__all__ = ["router"]
