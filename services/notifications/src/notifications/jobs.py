"""Handlers of the notifications queues: store and push notifications, make image variants."""

from __future__ import annotations

import asyncio
import os
from functools import cache

from common.consumer import Death, JobContext, JobRouter
from common.errors import Permanent
from common.storage import FileStorage, open_storage

from . import store
from .contracts import (
    NOTIFICATIONS_HIGH,
    NOTIFICATIONS_IMAGE,
    NOTIFICATIONS_NORMAL,
    CreateNotification,
    ImageVariant,
    LiveEvent,
    ProcessImage,
    image_key,
    user_routing_key,
)
from .images import BadImage, ImageSpec, Variants, make_variants
from .rows import save_notification
from .settings import settings

router = JobRouter()


@router.handler(NOTIFICATIONS_HIGH)
async def create_urgent_notification(job: CreateNotification, ctx: JobContext) -> None:
    # Same work as a normal one; the separate queue (own channel and prefetch in the
    # worker) is what keeps it from waiting behind a backlog of normal notifications.
    await deliver_notification(job, ctx)


@router.handler(NOTIFICATIONS_NORMAL)
async def create_notification(job: CreateNotification, ctx: JobContext) -> None:
    await deliver_notification(job, ctx)


async def deliver_notification(job: CreateNotification, ctx: JobContext) -> None:
    """Store the notification (once, keyed by its id), then push it to the user's streams.

    Idempotent by the natural key rather than ctx.transaction(): if the push fails after
    the commit, the retry must push again, and a stream drops an event it already has.
    """
    notification = await save_notification(ctx.runtime.pool, job)
    event = LiveEvent(user_id=job.user_id, notification=notification)
    await ctx.runtime.publisher.publish_event(
        user_routing_key(job.user_id), event.model_dump_json().encode()
    )


@cache
def image_storage() -> FileStorage:
    return open_storage(settings().image_storage_dir)


@cache
def _decoding_slots() -> asyncio.Semaphore:
    # Bounds the memory of concurrent decodes; more jobs than cores would only queue
    # for the CPU anyway.
    return asyncio.Semaphore(settings().image_threads or os.cpu_count() or 2)


async def image_died(job: ProcessImage, ctx: JobContext, death: Death) -> None:
    """A corrupt file, a decompression bomb, or its last attempt failed: the image is failed."""
    await store.fail_image(ctx.runtime.pool, job.image_id, death.reason)


@router.handler(NOTIFICATIONS_IMAGE, on_dead=image_died)
async def process_image(job: ProcessImage, ctx: JobContext) -> None:
    pool = ctx.runtime.pool
    if not await store.start_image(pool, job.image_id):
        return  # already done or failed: a redelivery after the effect
    variants = await _make_variants(job)
    await store.finish_image(
        pool,
        job.image_id,
        (variants.large.width, variants.large.height),
        (variants.thumb.width, variants.thumb.height),
    )


async def _make_variants(job: ProcessImage) -> Variants:
    storage = image_storage()
    try:
        original = await storage.read(image_key(job.image_id, ImageVariant.original))
    except FileNotFoundError as missing:
        raise Permanent("the original file is missing from IMAGE_STORAGE_DIR") from missing
    spec = ImageSpec(
        width=job.width,
        height=job.height,
        quality=job.quality,
        max_pixels=settings().image_max_pixels,
        thumbnail=(job.thumb_width, job.thumb_height),
    )
    async with _decoding_slots():
        try:
            variants = await asyncio.to_thread(make_variants, original, spec)
        except BadImage as bad:
            raise Permanent(str(bad)) from bad
    await storage.save_bytes(image_key(job.image_id, ImageVariant.large), variants.large.data)
    await storage.save_bytes(image_key(job.image_id, ImageVariant.thumb), variants.thumb.data)
    return variants
