"""Twilio's own callbacks, form-encoded and signed as Twilio signs them: receipts and STOP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import sms_status, start_sms, wait_for_status
from tests.support import Stack

pytestmark = pytest.mark.e2e

TO = "+24177750737"
TOKEN = "twilio-auth-token-for-tests"
# What Twilio calls: the public URL, not the address the gateway listens on here.
PUBLIC = "https://relay.example.com"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def start(stack: Stack, fake: FakeProvider) -> None:
    start_sms(
        stack,
        fake,
        SMS_PROVIDER="twilio",
        SMS_TWILIO_BASE_URL=fake.base_url,
        SMS_TWILIO_ACCOUNT_SID="AC123",
        SMS_TWILIO_AUTH_TOKEN=TOKEN,
        SMS_TWILIO_PUBLIC_URL=PUBLIC,
    )


def twilio_post(
    client: httpx.Client, path: str, fields: dict[str, str], *, token: str = TOKEN
) -> httpx.Response:
    """POST as Twilio does: form-encoded, no Bearer key, signed over the public URL."""
    signature = RequestValidator(token).compute_signature(PUBLIC + path, fields)
    return client.post(
        path,
        data=fields,
        headers={"X-Twilio-Signature": signature, "Authorization": ""},
    )


def test_a_signed_status_callback_moves_the_sms_once_and_bad_signatures_are_403(
    stack: Stack, fake: FakeProvider
) -> None:
    start(stack, fake)
    with stack.client() as client:
        sms_id = client.post("/v1/sms", json={"to": TO, "message": "hello"}).json()["id"]
        sid = wait_for_status(client, sms_id, "sent")["provider_id"]
        [call] = [c for c in fake.state.calls if c["to"] == TO]
        # Twilio is asked to call back on the public URL.
        assert call["headers"]["x-status-callback"] == PUBLIC + "/v1/sms/twilio/status"

        receipt = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC123"}
        assert twilio_post(client, "/v1/sms/twilio/status", receipt).status_code == 200
        assert sms_status(client, sms_id)["status"] == "delivered"
        # Twilio retries: the same callback again changes nothing more.
        assert twilio_post(client, "/v1/sms/twilio/status", receipt).status_code == 200
        late = {**receipt, "MessageStatus": "sent"}
        assert twilio_post(client, "/v1/sms/twilio/status", late).status_code == 200
        assert sms_status(client, sms_id)["status"] == "delivered"

        forged = twilio_post(client, "/v1/sms/twilio/status", receipt, token="not-the-token")
        assert forged.status_code == 403
        unsigned = client.post("/v1/sms/twilio/status", data=receipt)
        assert unsigned.status_code == 403
        tampered = {**receipt, "MessageStatus": "failed"}
        signature = RequestValidator(TOKEN).compute_signature(
            PUBLIC + "/v1/sms/twilio/status", receipt
        )
        answer = client.post(
            "/v1/sms/twilio/status", data=tampered, headers={"X-Twilio-Signature": signature}
        )
        assert answer.status_code == 403
        assert sms_status(client, sms_id)["status"] == "delivered"
        assert "twilio" not in answer.text.lower() or "token" not in answer.text.lower()


def test_a_signed_inbound_stop_skips_the_number_and_start_resumes_it(
    stack: Stack, fake: FakeProvider
) -> None:
    start(stack, fake)
    with stack.client() as client:
        first = client.post("/v1/sms", json={"to": TO, "message": "promo"}).json()["id"]
        wait_for_status(client, first, "sent")

        stop: dict[str, Any] = {"MessageSid": "SM-stop-1", "From": TO, "To": "+15005550006"}
        stop["Body"] = "STOP"
        answer = twilio_post(client, "/v1/sms/twilio/inbound", stop)
        assert answer.status_code == 200 and "<Response>" in answer.text
        assert twilio_post(client, "/v1/sms/twilio/inbound", stop).status_code == 200  # a replay

        skipped = client.post("/v1/sms", json={"to": TO, "message": "again"}).json()["id"]
        assert wait_for_status(client, skipped, "skipped")["error"] == "opted_out"

        start_again = {**stop, "MessageSid": "SM-start-1", "Body": "start"}
        assert twilio_post(client, "/v1/sms/twilio/inbound", start_again).status_code == 200
        resumed = client.post("/v1/sms", json={"to": TO, "message": "welcome"}).json()["id"]
        wait_for_status(client, resumed, "sent")

        forged = twilio_post(client, "/v1/sms/twilio/inbound", stop, token="wrong")
        assert forged.status_code == 403
    # The first and the resumed one reached Twilio; the skipped one never did.
    assert fake.deliveries_per_number()[TO] == 2
