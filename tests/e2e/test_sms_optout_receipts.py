"""Opt-out keywords, delivery receipts that never move backwards, and the circuit breaker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import sms_status, start_sms, wait_for_status
from tests.support import ADMIN_KEY, Stack, eventually

pytestmark = pytest.mark.e2e

TO = "+24177750737"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def test_stop_skips_the_recipient_and_start_resumes_delivery(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake)
    with stack.client() as client:
        stop = client.post("/v1/sms/inbound", json={"from": "077750737", "body": "Stop"})
        assert stop.status_code == 200, stop.text
        assert stop.json()["keyword"] == "STOP" and stop.json()["opted_out"] is True
        skipped_id = client.post("/v1/sms", json={"to": TO, "message": "promo"}).json()["id"]
        skipped = wait_for_status(client, skipped_id, "skipped")
        assert skipped["error"] == "opted_out" and skipped["attempts"] == 0
        assert fake.calls_for(skipped_id) == []

        start = client.post("/v1/sms/inbound", json={"from": TO, "body": "START"})
        assert start.json()["opted_out"] is False
        sent_id = client.post("/v1/sms", json={"to": TO, "message": "welcome back"}).json()["id"]
        wait_for_status(client, sent_id, "sent")
        reply = client.post("/v1/sms/inbound", json={"from": TO, "body": "merci beaucoup"})
        assert reply.status_code == 200 and reply.json()["keyword"] is None
        assert (
            client.post("/v1/sms/inbound", json={"from": "nope", "body": "STOP"}).status_code == 422
        )
        # A field the provider added is ignored, NUL and all; NUL in the text is still 422.
        extra = {"from": TO, "body": "ok", "network": {"n\u0000": "a\u0000b"}}
        assert client.post("/v1/sms/inbound", json=extra).status_code == 200
        nul = {"from": TO, "body": "o\u0000k"}
        assert client.post("/v1/sms/inbound", json=nul).status_code == 422
    assert sent_id in fake.deliveries


def test_delivered_receipt_is_not_undone_by_a_late_sent_receipt(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake)
    with stack.client() as client:
        sms_id = client.post("/v1/sms", json={"to": TO, "message": "receipt"}).json()["id"]
        provider_id = wait_for_status(client, sms_id, "sent")["provider_id"]
        delivered = client.post(
            "/v1/sms/status", json={"provider_id": provider_id, "status": "delivered"}
        )
        assert delivered.status_code == 200 and delivered.json()["applied"] is True
        late = client.post("/v1/sms/status", json={"provider_id": provider_id, "status": "sent"})
        assert late.status_code == 200 and late.json()["applied"] is False
        assert sms_status(client, sms_id)["status"] == "delivered"
        unknown = client.post(
            "/v1/sms/status", json={"provider_id": "nobody-knows", "status": "delivered"}
        )
        assert unknown.status_code == 200 and unknown.json()["matched"] is False
        bad = client.post(
            "/v1/sms/status", json={"provider_id": provider_id, "status": "teleported"}
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


def test_provider_down_opens_the_breaker_without_burning_attempts_then_delivers_everything(
    stack: Stack, fake: FakeProvider
) -> None:
    fake.answer_all(503)
    start_sms(stack, fake, SMS_BREAKER_FAILURES=3, SMS_BREAKER_COOLDOWN=1)
    with stack.client() as client, stack.client(ADMIN_KEY) as admin:
        ids = [
            client.post("/v1/sms", json={"to": TO, "message": f"m{i}"}).json()["id"]
            for i in range(6)
        ]

        def breaker_open() -> bool:
            return admin.get("/v1/ops/queues").json()["breakers"]["http"]["state"] in (
                "open",
                "half_open",
            )

        eventually(breaker_open, timeout=20, interval=0.1)
        # Outlast many attempts' worth of retries (3 attempts, 0.2 s / 0.5 s apart).
        eventually(lambda: fake.state.call_count >= 12, timeout=30, interval=0.2)
        assert admin.get("/v1/ops/failed").json() == []
        # Nothing failed: each waits, `sending` once tried, still `queued` if the breaker
        # opened before its first try and no probe has picked it yet.
        statuses = [sms_status(client, i) for i in ids]
        assert all(s["status"] in ("queued", "sending") for s in statuses), statuses
        assert any(s["status"] == "sending" for s in statuses), statuses

        fake.answer_all(200)
        for sms_id in ids:
            wait_for_status(client, sms_id, "sent", timeout=30)
        assert admin.get("/v1/ops/failed").json() == []
        assert admin.get("/v1/ops/queues").json()["breakers"]["http"]["state"] == "closed"
    assert set(fake.deliveries) == set(ids)
