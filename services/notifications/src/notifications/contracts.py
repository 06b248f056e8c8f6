"""Notification and image jobs: published by the gateway and by other domains (tournament warnings).

Also the pure rules both sides need: which queue a priority goes to, the live event a
stream receives, the image types we accept (by their magic bytes) and the image variants.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from common import topology
from common.envelope import Job
from pydantic import BaseModel, Field

# The queues are part of the contract: other domains publish to them from here.
from .topology import (
    NOTIFICATIONS_HIGH as NOTIFICATIONS_HIGH,
)
from .topology import (
    NOTIFICATIONS_IMAGE as NOTIFICATIONS_IMAGE,
)
from .topology import (
    NOTIFICATIONS_NORMAL as NOTIFICATIONS_NORMAL,
)


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


def queue_for(priority: Priority) -> topology.Queue:
    """The queue a queued notification goes to; `critical` is also queued when not written inline."""
    return NOTIFICATIONS_NORMAL if priority is Priority.normal else NOTIFICATIONS_HIGH


class Notification(BaseModel):
    """A stored notification as the API lists it and as a live event carries it.

    `seq` orders one user's notifications (newest = highest) and is the SSE event id.
    """

    id: uuid.UUID
    seq: int
    user_id: str
    title: str
    message: str
    type: NotificationType
    priority: Priority
    read: bool
    read_at: datetime | None = None
    created_at: datetime


def user_routing_key(user_id: str) -> str:
    """Routing key of a user's live events on the `events` exchange (bound as `user.#`)."""
    return f"user.{user_id}"


def user_of_routing_key(routing_key: str) -> str | None:
    prefix, dot, user_id = routing_key.partition(".")
    return user_id if prefix == "user" and dot and user_id else None


class LiveEvent(BaseModel):
    """What the `events` exchange carries to the gateways: one SSE event for one user."""

    event: str = "notification"
    user_id: str
    notification: Notification


# --------------------------------------------------------------------------- images


class ImageStatus(StrEnum):
    queued = "queued"
    processing = "processing"
    done = "done"
    failed = "failed"


class ImageVariant(StrEnum):
    original = "original"
    large = "large"
    thumb = "thumb"


IMAGE_DEFAULT_WIDTH = 1200
IMAGE_DEFAULT_HEIGHT = 1200
IMAGE_DEFAULT_QUALITY = 85
THUMBNAIL_SIZE = (300, 300)
# An upper bound on the requested box: a larger one is a typo or an attempt to make us
# allocate a huge canvas; the source's own size caps the result anyway (no upscaling).
IMAGE_MAX_DIMENSION = 10_000

# Content types of the formats we accept, by Pillow format name.
IMAGE_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def sniff_image_format(head: bytes) -> str | None:
    """`JPEG`, `PNG` or `WEBP` from a file's first 12 bytes (its magic number), else None.

    The client's Content-Type and file name are not trusted: only the bytes count.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def image_key(image_id: uuid.UUID, variant: ImageVariant) -> str:
    """Where a variant lives in the image storage."""
    return f"{image_id}/{variant.value}"


class ProcessImage(Job):
    """Make the `large` and `thumb` variants of an uploaded original."""

    image_id: uuid.UUID
    user_id: str
    format: str = Field(pattern="^(JPEG|PNG|WEBP)$")
    width: int = Field(default=IMAGE_DEFAULT_WIDTH, ge=1, le=IMAGE_MAX_DIMENSION)
    height: int = Field(default=IMAGE_DEFAULT_HEIGHT, ge=1, le=IMAGE_MAX_DIMENSION)
    quality: int = Field(default=IMAGE_DEFAULT_QUALITY, ge=1, le=100)
    # The thumbnail's box (a Laravel ProcessImageJob may ask for another than 300 x 300).
    thumb_width: int = Field(default=THUMBNAIL_SIZE[0], ge=1, le=IMAGE_MAX_DIMENSION)
    thumb_height: int = Field(default=THUMBNAIL_SIZE[1], ge=1, le=IMAGE_MAX_DIMENSION)
