"""Handlers of the sms queues."""

from common.consumer import JobRouter

router = JobRouter()
