"""Each domain's main path through the containers, with the process-based e2e results."""

from __future__ import annotations

import io
import uuid

from PIL import Image

from tests.compose.flows import (
    create_payment,
    numbers,
    payment,
    post_succeeded,
    start_campaign,
    wait_campaign_sent,
)
from tests.fakes.notifications_images import rotated_photo
from tests.fakes.notifications_sse import SseClient
from tests.support import eventually
from tests.support.compose import ComposeStack


def test_single_sms_is_sent_through_the_provider_container(compose: ComposeStack) -> None:
    with compose.client() as client:
        answer = client.post("/v1/sms", json={"to": "+24177999001", "message": "Bonjour"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "queued" and answer.json()["segments"] == 1

        def sent() -> dict[str, object]:
            body = client.get(f"/v1/sms/{answer.json()['id']}").json()
            assert body["status"] == "sent", body
            return dict(body)

        body = eventually(sent, timeout=60, interval=0.5)
        assert str(body["provider_id"]).startswith("fake-") and body["attempts"] == 1


def test_campaign_of_5000_is_sent_once_to_each_recipient(compose: ComposeStack) -> None:
    before = compose.fake_sms_stats()
    with compose.client() as client:
        campaign = start_campaign(client, numbers(5000, start=0), "compose-5000")
        final = wait_campaign_sent(client, campaign["id"], timeout=300)
    assert final["sent"] == 5000
    after = compose.fake_sms_stats()
    assert after["deliveries"] - before["deliveries"] == 5000
    assert after["duplicates"] == before["duplicates"]


def test_signed_stripe_webhook_marks_the_payment_succeeded_once(compose: ComposeStack) -> None:
    with compose.client() as client:
        created = create_payment(client)
        event_id = post_succeeded(client, created["id"])
        post_succeeded(client, created["id"], event_id=event_id)  # Stripe retries: same id

        def succeeded() -> dict[str, object]:
            body = payment(client, created["id"])
            assert body["status"] == "succeeded", body
            return body

        body = eventually(succeeded, timeout=60, interval=0.5)
        assert [e["event_id"] for e in body["events"]] == [event_id]  # type: ignore[union-attr]
        unsigned = client.post("/v1/webhooks/stripe", content=b"{}")
        assert unsigned.status_code == 400


def test_notification_is_pushed_over_sse(compose: ComposeStack) -> None:
    title = f"compose-{uuid.uuid4().hex[:6]}"
    with (
        SseClient(f"{compose.gateway}/v1/notifications/stream", "dev-key") as stream,
        compose.client() as client,
    ):
        assert stream.status == 200
        answer = client.post(
            "/v1/notifications",
            json={"user_id": "user-1", "title": title, "message": "live", "priority": "normal"},
        )
        assert answer.status_code == 202, answer.text
        event = stream.next(timeout=30)
        assert event.event == "notification" and event.json()["title"] == title


def test_image_job_resizes_and_thumbnails_through_the_shared_volume(
    compose: ComposeStack,
) -> None:
    with compose.client() as client:
        answer = client.post(
            "/v1/images",
            files={"file": ("photo.jpg", rotated_photo(4000, 3000, orientation=6),
                            "application/octet-stream")},
        )  # fmt: skip
        assert answer.status_code == 202, answer.text

        def done() -> dict[str, object]:
            body = client.get(f"/v1/images/{answer.json()['id']}").json()
            assert body["status"] == "done", body
            return dict(body)

        image = eventually(done, timeout=120, interval=0.5)
        links = image["links"]
        assert isinstance(links, dict) and set(links) == {"original", "large", "thumb"}
        large = Image.open(io.BytesIO(client.get(links["large"]).content))
        thumb = Image.open(io.BytesIO(client.get(links["thumb"]).content))
        assert large.size == (900, 1200)  # upright: EXIF orientation applied
        assert thumb.size == (225, 300)
