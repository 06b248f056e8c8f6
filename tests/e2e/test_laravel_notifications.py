"""Laravel's notification and image jobs run in Relay: SendNotificationJob becomes a stored
notification (high on `-high` queues and `haute` / `high` / `urgente` priorities), and
ProcessImageJob an image job whose file is read from the Laravel app's storage, and never
from outside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.laravel_support import (
    IMAGE_JOB,
    NOTIFICATION_JOB,
    dispatch,
    failed_jobs,
    fresh_logs,
    sql,
    start_bridge,
    wait_settled,
)
from tests.fakes.notifications_images import rotated_photo
from tests.support import Stack, eventually
from tests.support.laravel import require_php

pytestmark = pytest.mark.e2e

KEYS = {"API_KEYS": "user-key=7,other-key=laravel"}


@pytest.fixture(autouse=True)
def _php(stack: Stack) -> None:
    require_php()
    fresh_logs(stack)


def _notification(**data: Any) -> dict[str, Any]:
    body = {"user_id": 7, "title": "Congé approuvé", "message": "Du 2 au 5", "type": "success"}
    return {"class": NOTIFICATION_JOB, "args": [{**body, **data}]}


def test_notification_jobs_are_stored_for_their_user_with_the_seed_priority_rules(
    stack: Stack,
) -> None:
    stack.start("gateway", **KEYS)
    stack.start("notifications", **KEYS)
    stack.wait_ready()
    start_bridge(stack, "notifications,notifications-high")
    normal, urgent = dispatch(
        stack,
        "notifications",
        [_notification(priorite="normale"), _notification(priorite="urgente", type="warning")],
    )
    [by_queue] = dispatch(stack, "notifications-high", [_notification(title="Évaluation")])
    [bad_type] = dispatch(stack, "notifications", [_notification(type="congé")])

    with stack.client() as client:

        def listed() -> dict[str, dict[str, Any]]:
            items = client.get("/v1/notifications").json()["items"]
            assert len(items) == 3, items
            return {item["id"]: item for item in items}

        stored = eventually(listed, timeout=60)
    assert set(stored) == {normal.uuid, urgent.uuid, by_queue.uuid}
    assert stored[normal.uuid or ""]["priority"] == "normal"
    assert stored[urgent.uuid or ""]["priority"] == "high"
    assert stored[urgent.uuid or ""]["type"] == "warning"
    assert stored[by_queue.uuid or ""]["priority"] == "high"
    assert stored[by_queue.uuid or ""]["title"] == "Évaluation"
    [failed] = eventually(lambda: failed_jobs(stack, "laravel.notifications"), timeout=30)
    assert failed["error"].startswith(f"{NOTIFICATION_JOB}, property 'data.type': ")
    assert failed["message_id"] == bad_type.uuid
    for queue in ("notifications", "notifications-high"):
        wait_settled(stack, queue)


def test_an_image_job_reads_its_file_under_the_storage_dir_and_is_processed(
    stack: Stack, tmp_path: Path
) -> None:
    images, laravel = tmp_path / "images", tmp_path / "laravel-storage"
    (laravel / "attendance").mkdir(parents=True)
    (laravel / "attendance" / "photo.jpg").write_bytes(rotated_photo(1600, 1200))
    (tmp_path / "outside.jpg").write_bytes(rotated_photo(100, 100))
    env = {"IMAGE_STORAGE_DIR": str(images), **KEYS}
    stack.start("gateway", **env)
    stack.start("notifications", **env)
    stack.wait_ready()
    start_bridge(stack, "images", LARAVEL_STORAGE_DIR=str(laravel), **env)
    options = {"disk": "public", "width": 800, "height": 800, "quality": 80}
    [photo, escaping] = dispatch(
        stack,
        "images",
        [
            {
                "class": IMAGE_JOB,
                "args": [
                    "attendance/photo.jpg",
                    {**options, "thumbnail": {"width": 120, "height": 90}},
                ],
            },
            {"class": IMAGE_JOB, "args": ["../outside.jpg", options]},
        ],
    )
    # ProcessImageJob names no user: the image is LARAVEL_DEFAULT_USER's ("laravel").
    with stack.client("other-key") as client:

        def processed() -> dict[str, Any]:
            view = client.get(f"/v1/images/{photo.uuid}").json()
            assert view.get("status") == "done", view
            return dict(view)

        done = eventually(processed, timeout=60)
        original = client.get(f"/v1/images/{photo.uuid}/original").content
    # Stored upright (EXIF orientation 6): 1200 x 1600, fitted into 800 x 800.
    assert done["large"] == {"width": 600, "height": 800}
    assert done["thumb"]["width"] <= 120 and done["thumb"]["height"] <= 90
    assert original == (laravel / "attendance" / "photo.jpg").read_bytes()
    [failed] = eventually(lambda: failed_jobs(stack, "laravel.images"), timeout=30)
    assert failed["error"] == (
        f"{IMAGE_JOB}, property 'imagePath': '../outside.jpg' leads outside LARAVEL_STORAGE_DIR"
    )
    assert failed["message_id"] == escaping.uuid
    [row] = sql(stack, "SELECT user_id, quality FROM notifications.images")
    assert row == {"user_id": "laravel", "quality": 80}
    wait_settled(stack, "images")
