"""Single sends through the gateway, the sms worker and a fake provider on localhost."""

from __future__ import annotations

import pytest

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import sms_status, start_sms, wait_for_status
from tests.support import ADMIN_KEY, Stack, eventually

pytestmark = pytest.mark.e2e

TO = "+24177750737"


@pytest.fixture
def fake() -> FakeProvider:
    with FakeProvider() as provider:
        yield provider


def test_send_reaches_sent_with_one_provider_call_carrying_the_idempotency_key(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake)
    with stack.client() as client:
        queued = client.post(
            "/v1/sms", json={"to": "077750737", "message": "Votre code: 1234", "sender": "SendWave"}
        )
        assert queued.status_code == 202, queued.text
        sms_id = queued.json()["id"]
        done = wait_for_status(client, sms_id, "sent")
    calls = fake.calls_for(sms_id)
    assert len(calls) == 1
    call = calls[0]
    assert call["headers"]["idempotency-key"] == sms_id
    assert (call["to"], call["body"], call["from"]) == (TO, "Votre code: 1234", "SendWave")
    assert done["attempts"] == 1
    assert done["provider_id"] == fake.deliveries[sms_id].provider_id
    assert done["error"] is None


def test_two_transient_failures_then_success_is_sent_after_3_attempts(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake)
    fake.fail_next(503, 429)
    with stack.client() as client:
        sms_id = client.post("/v1/sms", json={"to": TO, "message": "retry me"}).json()["id"]
        done = wait_for_status(client, sms_id, "sent")
    assert done["attempts"] == 3
    assert len(fake.calls_for(sms_id)) == 3
    assert len(fake.deliveries) == 1


def test_permanent_provider_error_fails_without_retry_and_ops_retry_sends_it(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake)
    fake.refuse(TO, 400)
    with stack.client() as client, stack.client(ADMIN_KEY) as admin:
        sms_id = client.post("/v1/sms", json={"to": TO, "message": "refused"}).json()["id"]
        failed = wait_for_status(client, sms_id, "failed")
        assert failed["attempts"] == 1
        assert "400" in failed["error"]

        def listed() -> dict[str, object]:
            rows = admin.get("/v1/ops/failed", params={"queue": "sms.send"}).json()
            assert len(rows) == 1, rows
            return rows[0]

        dead = eventually(listed, timeout=10)
        assert dead["attempts"] == 1 and "400" in dead["error"]
        assert len(fake.calls_for(sms_id)) == 1  # never retried by itself

        fake.state.refuse.clear()  # the operator fixed the account; retry from the store
        assert admin.post(f"/v1/ops/failed/{dead['id']}/retry").status_code == 202
        done = wait_for_status(client, sms_id, "sent")
        assert done["attempts"] == 2
        assert sms_status(client, sms_id)["error"] is None
    assert sms_id in fake.deliveries


def test_twilio_provider_sends_through_the_messages_api(stack: Stack, fake: FakeProvider) -> None:
    start_sms(
        stack,
        SMS_PROVIDER="twilio",
        SMS_TWILIO_BASE_URL=fake.base_url,
        SMS_TWILIO_ACCOUNT_SID="AC123",
        SMS_TWILIO_AUTH_TOKEN="secret",
        SMS_DEFAULT_SENDER="+15005550006",
    )
    with stack.client() as client:
        sms_id = client.post("/v1/sms", json={"to": TO, "message": "via twilio"}).json()["id"]
        done = wait_for_status(client, sms_id, "sent")
    (call,) = fake.state.calls
    assert call["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert call["headers"]["authorization"].startswith("Basic ")
    assert (call["to"], call["body"], call["from"]) == (TO, "via twilio", "+15005550006")
    assert done["provider_id"].startswith("fake-") and done["provider"] == "twilio"
