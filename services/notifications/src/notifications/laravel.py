"""Laravel jobs that become notification and image jobs, for the Laravel bridge
(services/bridge; docs/laravel.md).

`SendNotificationJob` (an array `data`: user_id, title, message, type, priorite or
priority) becomes one notification, as POST /v1/notifications by a service key would for
that user; `haute`, `high` or `urgente`, or a Laravel queue whose name ends in `-high`,
make it `high` (its own queue, consumed first), anything else `normal`.
`ProcessImageJob` (imagePath, options: width, height, quality, thumbnail) becomes one
image job, as POST /v1/images would: the file is read from the Laravel app's storage
(LARAVEL_STORAGE_DIR, never outside it), stored as the image's original, and processed by
the notifications worker; a job names no user, so the image belongs to the `user`
property when it has one, else to LARAVEL_DEFAULT_USER.

The Laravel `uuid` is the notification's (or the image's) id; the same job twice makes one.
Both keep Laravel's attempts, $tries, $backoff, $timeout and retryUntil().
"""

from __future__ import annotations

from typing import Any

from common.laravel import Created, LaravelAdapter, LaravelCall, LaravelInputError, input_error
from common.runtime import Runtime
from pydantic import ValidationError

from .api.service import (
    ImageIdTaken,
    ImageOptions,
    NewNotification,
    UnsupportedImage,
    accept_image,
    notify,
)
from .api.settings import notifications_settings
from .contracts import Priority

USER = ("userId", "user_id", "user")
# A high notification: its `priorite` / `priority` is one of these, or its Laravel queue
# is named `<something>-high` (the seed app's `notifications-high`).
HIGH_PRIORITIES = frozenset({"haute", "high", "urgente"})
HIGH_QUEUE_SUFFIX = "-high"
CARRIED = "attempts, $tries, $backoff, $timeout, retryUntil()"


def priority_of(value: Any, laravel_queue: str) -> Priority:
    """The Relay priority of a Laravel notification (never `critical`: that one is
    written before an HTTP answer, and a queued job has no one waiting for it)."""
    if laravel_queue.endswith(HIGH_QUEUE_SUFFIX):
        return Priority.high
    if isinstance(value, str) and value.strip().lower() in HIGH_PRIORITIES:
        return Priority.high
    return Priority.normal


async def accept_notification(runtime: Runtime, call: LaravelCall) -> Created:
    user_id = call.user_id()
    fields = {"user_id": "user", "title": "title", "message": "message", "type": "type"}
    try:
        request = NewNotification.model_validate(
            {
                "user_id": user_id,
                "title": call.text("title"),
                "message": call.text("message"),
                "type": call.optional_text("type") or "info",
                "priority": priority_of(call.get("priority"), call.laravel_queue),
            }
        )
    except ValidationError as error:
        raise input_error(error, fields) from None
    envelope = call.envelope(str(call.job_id), user_id)
    await notify(runtime, request, envelope, notification_id=call.job_id)
    # The worker stores one notification per id: a second delivery adds nothing.
    return Created("notification", call.job_id)


def thumbnail_box(value: Any) -> dict[str, Any]:
    """`thumbnail` as Laravel apps write it: ['width' => 300, 'height' => 300], [300, 300],
    or one number for a square; anything else (false, null) keeps the default box."""
    if isinstance(value, dict):
        box = {"thumb_width": value.get("width"), "thumb_height": value.get("height")}
        return {key: size for key, size in box.items() if size is not None}
    if isinstance(value, list) and len(value) == 2:
        return {"thumb_width": value[0], "thumb_height": value[1]}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"thumb_width": value, "thumb_height": value}
    return {}


async def accept_image_job(runtime: Runtime, call: LaravelCall) -> Created:
    user_id = call.user_id() if call.has("user") else call.default_user
    fields = {
        "width": "width",
        "height": "height",
        "quality": "quality",
        "thumb_width": "thumbnail",
        "thumb_height": "thumbnail",
    }
    given = {name: call.get(name) for name in ("width", "height", "quality") if call.has(name)}
    try:
        options = ImageOptions.model_validate({**given, **thumbnail_box(call.get("thumbnail"))})
    except ValidationError as error:
        raise input_error(error, fields) from None
    path = call.text("path")
    file = await call.files.open("path", path, notifications_settings().image_max_bytes)
    try:
        accepted = await accept_image(
            runtime,
            user_id,
            file.source,
            file.head,
            options,
            call.envelope(str(call.job_id), user_id),
            size=file.size,
            image_id=call.job_id,
        )
    except UnsupportedImage as unsupported:
        raise LaravelInputError("path", f"{path!r}: {unsupported}") from None
    except ImageIdTaken as taken:
        raise LaravelInputError("user", str(taken)) from None
    finally:
        file.close()
    return Created("image", accepted.answer.id, accepted.new)


ADAPTERS = (
    LaravelAdapter(
        kind="notification",
        classes=("SendNotificationJob",),
        fields={
            "user": tuple(f"data.{name}" for name in USER) + USER,
            "title": ("data.title", "title"),
            "message": ("data.message", "message"),
            "type": ("data.type", "type"),
            "priority": ("data.priorite", "data.priority", "priorite", "priority"),
        },
        accept=accept_notification,
        carried=CARRIED,
    ),
    LaravelAdapter(
        kind="image",
        classes=("ProcessImageJob",),
        fields={
            "user": USER + tuple(f"options.{name}" for name in USER),
            "path": ("imagePath", "image_path", "path"),
            "width": ("options.width", "width"),
            "height": ("options.height", "height"),
            "quality": ("options.quality", "quality"),
            "thumbnail": ("options.thumbnail", "thumbnail"),
        },
        accept=accept_image_job,
        carried=CARRIED,
    ),
)
