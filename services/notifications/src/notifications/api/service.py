"""What a request for one notification or one image job does, whoever asks. The HTTP routes
call these once the caller is authenticated (and allowed to act for the user); the Laravel
bridge's adapter (notifications.laravel) calls them for Laravel jobs, with the job's uuid
as the id, so the same uuid twice makes one notification or one image."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from functools import cache
from typing import IO

import asyncpg
from common.envelope import Envelope
from common.errors import BrokerUnavailable, Conflict
from common.publisher import Publisher
from common.request_body import RequestBody, Text
from common.runtime import Runtime
from common.storage import FileStorage, open_storage
from pydantic import BaseModel, Field

from ..contracts import (
    IMAGE_DEFAULT_HEIGHT,
    IMAGE_DEFAULT_QUALITY,
    IMAGE_DEFAULT_WIDTH,
    IMAGE_MAX_DIMENSION,
    NOTIFICATIONS_IMAGE,
    THUMBNAIL_SIZE,
    CreateNotification,
    ImageStatus,
    ImageVariant,
    LiveEvent,
    Notification,
    NotificationType,
    Priority,
    ProcessImage,
    image_key,
    queue_for,
    sniff_image_format,
    user_routing_key,
)
from . import store
from .settings import notifications_settings

log = logging.getLogger(__name__)


class NewNotification(RequestBody):
    user_id: Text = Field(min_length=1, max_length=200)
    title: Text = Field(min_length=1, max_length=200)
    message: Text = Field(min_length=1, max_length=5000)
    type: NotificationType = NotificationType.info
    priority: Priority = Priority.normal


class QueuedNotification(BaseModel):
    id: uuid.UUID
    status: str = "queued"
    user_id: str
    priority: Priority


class StoredNotification(Notification):
    status: str = "stored"


# Live pushes of critical notifications run after the answer; kept here so they are not
# garbage-collected mid-flight.
_pushes: set[asyncio.Task[None]] = set()


async def _push(publisher: Publisher, notification: Notification) -> None:
    event = LiveEvent(user_id=notification.user_id, notification=notification)
    try:
        await publisher.publish_event(
            user_routing_key(notification.user_id), event.model_dump_json().encode()
        )
    except BrokerUnavailable as error:
        # Stored already; the user's stream reads it on its next event or reconnect.
        log.warning("live push of a critical notification failed", extra={"error": str(error)})


async def notify(
    runtime: Runtime,
    request: NewNotification,
    envelope: Envelope,
    *,
    notification_id: uuid.UUID | None = None,
) -> QueuedNotification | StoredNotification:
    """Queue the notification (confirmed), or write a critical one now and push it live.
    Its id is `notification_id` when given: the worker stores one row per id."""
    job = CreateNotification(**request.model_dump(), id=notification_id or uuid.uuid4())
    if request.priority is Priority.critical:
        # Written before answering, with no worker involved (the Laravel "sync" path).
        stored = await store.insert_notification(runtime.pool, job)
        task = asyncio.create_task(_push(runtime.publisher, stored))
        _pushes.add(task)
        task.add_done_callback(_pushes.discard)
        return StoredNotification(**stored.model_dump())
    await runtime.publisher.publish(queue_for(request.priority), job, envelope=envelope)
    return QueuedNotification(id=job.id, user_id=job.user_id, priority=job.priority)


# --------------------------------------------------------------------------- images


@cache
def image_storage() -> FileStorage:
    return open_storage(notifications_settings().image_storage_dir)


class ImageOptions(BaseModel):
    """What to make of an image: the box of `large`, its quality, and the thumbnail's box."""

    width: int = Field(default=IMAGE_DEFAULT_WIDTH, ge=1, le=IMAGE_MAX_DIMENSION)
    height: int = Field(default=IMAGE_DEFAULT_HEIGHT, ge=1, le=IMAGE_MAX_DIMENSION)
    quality: int = Field(default=IMAGE_DEFAULT_QUALITY, ge=1, le=100)
    thumb_width: int = Field(default=THUMBNAIL_SIZE[0], ge=1, le=IMAGE_MAX_DIMENSION)
    thumb_height: int = Field(default=THUMBNAIL_SIZE[1], ge=1, le=IMAGE_MAX_DIMENSION)


class ImageAccepted(BaseModel):
    id: uuid.UUID
    status: ImageStatus = ImageStatus.queued


@dataclass(frozen=True)
class AcceptedImage:
    answer: ImageAccepted
    new: bool = True  # False: an image with this id was accepted before


class UnsupportedImage(ValueError):
    """Not a JPEG, PNG or WebP file, judged by its bytes (a 415)."""


class ImageIdTaken(Conflict):
    """The id given for a new image belongs to another user's image."""


async def accept_image(
    runtime: Runtime,
    user_id: str,
    source: IO[bytes],
    head: bytes,
    options: ImageOptions,
    envelope: Envelope,
    *,
    size: int,
    image_id: uuid.UUID | None = None,
) -> AcceptedImage:
    """Store the original (`source`, read from its start; `head` its first bytes), its row
    and its processing job, in one outbox transaction: never one without the others.
    UnsupportedImage for a file that is no image we take; BrokerUnavailable when not
    confirmed (then nothing is left behind)."""
    image_format = sniff_image_format(head)
    if image_format is None:
        raise UnsupportedImage("only JPEG, PNG and WebP images are accepted")
    image_id = image_id or uuid.uuid4()
    job = ProcessImage(
        image_id=image_id, user_id=user_id, format=image_format, **options.model_dump()
    )
    envelope = Envelope(
        message_id=str(image_id),
        user_id=user_id,
        attempt=envelope.attempt,
        correlation_id=envelope.correlation_id,
        idempotency_key=envelope.idempotency_key,
        headers=dict(envelope.headers),
    )
    existing = await store.get_image(runtime.pool, None, image_id)
    if existing is not None:
        return _accepted_before(user_id, existing)
    storage = image_storage()
    original = image_key(image_id, ImageVariant.original)
    await storage.save(original, source)
    try:
        async with runtime.pool.acquire() as connection, connection.transaction():
            inserted = await store.insert_image(
                connection,
                image_id=image_id,
                user_id=user_id,
                image_format=image_format,
                original_bytes=size,
                width=options.width,
                height=options.height,
                quality=options.quality,
            )
            staged = (
                await runtime.outbox.stage(connection, [(NOTIFICATIONS_IMAGE, job, envelope)])
                if inserted
                else []
            )
        if not inserted:  # accepted meanwhile by another call with the same id
            existing = await store.get_image(runtime.pool, None, image_id)
            assert existing is not None
            return _accepted_before(user_id, existing)

        async def undo(connection: asyncpg.Connection) -> None:
            await store.delete_image(connection, image_id)

        await runtime.outbox.send_or_withdraw(staged, undo)
    except Exception:
        # Nothing was queued, so nothing may remain (the caller is told to retry); a row
        # that stayed has its job staged, and keeps its file.
        with contextlib.suppress(Exception):
            if not await _row_exists(runtime.pool, image_id):
                await storage.delete(original)
        raise
    return AcceptedImage(ImageAccepted(id=image_id))


async def _row_exists(pool: asyncpg.Pool, image_id: uuid.UUID) -> bool:
    return await store.get_image(pool, None, image_id) is not None


def _accepted_before(user_id: str, existing: store.ImageRecord) -> AcceptedImage:
    """The image an earlier call with the same id accepted (its job went with its row)."""
    if existing.user_id != user_id:
        raise ImageIdTaken(f"image id {existing.id} belongs to another user")
    return AcceptedImage(ImageAccepted(id=existing.id, status=existing.status), new=False)
