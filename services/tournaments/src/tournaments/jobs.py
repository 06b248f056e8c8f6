"""Handlers of the tournaments queues."""

from common.consumer import JobRouter

router = JobRouter()
