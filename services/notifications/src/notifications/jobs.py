"""Handlers of the notifications queues."""

from common.consumer import JobRouter

router = JobRouter()
