"""HTTP routes of the notifications domain: create, list, read, live stream.

The image routes (images.py) are included here, so they share this router's place in the
gateway and the live-events relay this router's lifespan runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from common.envelope import Envelope
from common.errors import NotFound
from common.live import EventHub
from common.web import CurrentUser, Db, RuntimeDep, refuse_unless_acting_for
from fastapi import APIRouter, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from ..contracts import LiveEvent, Notification
from . import images, store
from .service import NewNotification, QueuedNotification, StoredNotification, notify
from .settings import notifications_settings
from .stream import notification_events

log = logging.getLogger(__name__)


def _live_notification(body: bytes) -> tuple[str, Notification]:
    event = LiveEvent.model_validate_json(body)
    return event.user_id, event.notification


@contextlib.asynccontextmanager
async def live_events(app: FastAPI) -> AsyncIterator[None]:
    """Run this replica's live-events relay for as long as the app runs.

    A router lifespan, merged into the app's by FastAPI: the gateway mounts the router and
    the relay starts and stops with it.
    """
    hub = EventHub(
        app.state.settings.broker_urls, notifications_settings().sse_buffer, _live_notification
    )
    app.state.events_hub = hub
    task = asyncio.create_task(hub.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


router = APIRouter(tags=["notifications"], lifespan=live_events)
router.include_router(images.router)


class NotificationPage(BaseModel):
    items: list[Notification]
    unread_count: int
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: int | None


@router.post(
    "/v1/notifications",
    status_code=202,
    responses={201: {"model": StoredNotification, "description": "critical: stored now"}},
)
async def create_notification(
    body: NewNotification,
    user: CurrentUser,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
) -> QueuedNotification | StoredNotification:
    # A user key notifies its own user; a service (or admin) key may notify anyone.
    refuse_unless_acting_for(user, body.user_id)
    envelope = Envelope(
        user_id=user.id,
        correlation_id=request.headers.get("x-request-id"),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    done = await notify(runtime, body, envelope)
    if isinstance(done, StoredNotification):
        response.status_code = 201
    return done


@router.get("/v1/notifications")
async def list_notifications(
    user: CurrentUser,
    db: Db,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        # le: Postgres bigint, the sequence's type.
        int | None, Query(ge=1, le=2**63 - 1, description="next_before of the previous page")
    ] = None,
) -> NotificationPage:
    items = await store.list_notifications(db, user.id, unread=unread, limit=limit, before=before)
    return NotificationPage(
        items=items,
        unread_count=await store.count_unread(db, user.id),
        next_before=items[-1].seq if len(items) == limit else None,
    )


@router.get(
    "/v1/notifications/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_notifications(
    user: CurrentUser,
    request: Request,
    db: Db,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[
        int | None,
        Query(
            alias="last_event_id",
            ge=0,
            le=2**63 - 1,
            description="for clients that cannot set headers",
        ),
    ] = None,
) -> StreamingResponse:
    resume = last_event_id_query
    if last_event_id:
        text = last_event_id.strip()
        if not (text.isascii() and text.isdigit() and int(text) < 2**63):
            raise HTTPException(422, "Last-Event-ID: must be the id of an event from this stream")
        resume = int(last_event_id)
    hub: EventHub[Notification] = request.app.state.events_hub
    settings = notifications_settings()
    return StreamingResponse(
        notification_events(hub, db, user.id, resume, settings.sse_heartbeat_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/v1/notifications/{notification_id}")
async def show_notification(user: CurrentUser, db: Db, notification_id: uuid.UUID) -> Notification:
    notification = await store.get_notification(db, user.id, notification_id)
    if notification is None:
        raise NotFound(f"no notification {notification_id}")
    return notification


@router.post("/v1/notifications/{notification_id}/read")
async def read_notification(user: CurrentUser, db: Db, notification_id: uuid.UUID) -> Notification:
    notification = await store.mark_read(db, user.id, notification_id)
    if notification is None:
        raise NotFound(f"no notification {notification_id}")
    return notification
