"""Handlers of the payments queues."""

from common.consumer import JobRouter

router = JobRouter()
