"""Notification jobs: published by the gateway and by other domains (tournament warnings)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import Field

from common.envelope import Job


class NotificationType(StrEnum):
    info = "info"
    success = "success"
    warning = "warning"
    error = "error"


class Priority(StrEnum):
    normal = "normal"
    high = "high"
    critical = "critical"


class CreateNotification(Job):
    """Persist a notification for `user_id` and push it live to the user's streams.

    `id` is chosen by the publisher, so a redelivered job never creates a second row.
    """

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    user_id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=5000)
    type: NotificationType = NotificationType.info
    priority: Priority = Priority.normal
