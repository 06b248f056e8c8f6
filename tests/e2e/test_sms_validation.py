"""POST /v1/sms input rules and the per-user API limits, through the real gateway."""

from __future__ import annotations

import pytest

from tests.fakes.sms_support import numbers, start_sms
from tests.support import OTHER_KEY, Stack

pytestmark = pytest.mark.e2e


def test_invalid_sms_is_422_naming_the_field(stack: Stack) -> None:
    start_sms(stack, workers=0)
    with stack.client() as client:
        bad_number = client.post("/v1/sms", json={"to": "12345", "message": "hi"})
        assert bad_number.status_code == 422
        assert bad_number.json()["errors"][0]["field"] == "to"
        not_a_number = client.post("/v1/sms", json={"to": "call me", "message": "hi"})
        assert not_a_number.status_code == 422 and "to" in not_a_number.json()["detail"]
        empty = client.post("/v1/sms", json={"to": "+24177750737", "message": "  "})
        assert empty.status_code == 422
        assert empty.json()["errors"][0]["field"] == "message"
        too_long = client.post("/v1/sms", json={"to": "+24177750737", "message": "a" * 1531})
        assert too_long.status_code == 422
        assert too_long.json()["errors"][0]["field"] == "message"
        assert "segments" in too_long.json()["detail"]
        missing = client.post("/v1/sms", json={"message": "hi"})
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "to"
        assert (
            client.post(
                "/v1/campaigns", json={"name": "x", "message": "hi", "recipients": []}
            ).status_code
            == 422
        )


def test_local_numbers_use_the_default_region_and_segments_are_exact(stack: Stack) -> None:
    start_sms(stack, workers=0)
    with stack.client() as client:
        local = client.post("/v1/sms", json={"to": "077 75 07 37", "message": "Bonjour"})
        assert local.status_code == 202, local.text
        assert local.json()["to"] == "+24177750737"
        assert local.json()["status"] == "queued"
        samples = {
            "a" * 160: (1, "GSM-7"),
            "a" * 161: (2, "GSM-7"),
            "€" * 80: (1, "GSM-7"),  # extension characters count 2
            "€" * 81: (2, "GSM-7"),
            "Hello 😀": (1, "UCS-2"),
            "😀" * 36: (2, "UCS-2"),  # 72 UTF-16 code units
            "a" * 1530: (10, "GSM-7"),  # the SMS_MAX_SEGMENTS ceiling itself is fine
        }
        for message, (segments, encoding) in samples.items():
            answer = client.post("/v1/sms", json={"to": "+24177750737", "message": message})
            assert answer.status_code == 202, answer.text
            assert (answer.json()["segments"], answer.json()["encoding"]) == (segments, encoding), (
                message
            )
        sms_id = local.json()["id"]
        shown = client.get(f"/v1/sms/{sms_id}").json()
        assert set(shown) >= {
            "id",
            "to",
            "status",
            "attempts",
            "segments",
            "encoding",
            "error",
            "provider_id",
        }
    with stack.client(OTHER_KEY) as other:
        assert other.get(f"/v1/sms/{sms_id}").status_code == 404


def test_101st_single_send_in_a_minute_is_429_with_retry_after(stack: Stack) -> None:
    start_sms(stack, workers=0)
    with stack.client() as client:
        for to in numbers(100):
            assert client.post("/v1/sms", json={"to": to, "message": "hi"}).status_code == 202
        limited = client.post("/v1/sms", json={"to": "+24177750737", "message": "hi"})
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
    with stack.client(OTHER_KEY) as other:  # limits are per user
        assert (
            other.post("/v1/sms", json={"to": "+24177750737", "message": "hi"}).status_code == 202
        )


def test_6th_campaign_in_an_hour_is_429_with_retry_after(stack: Stack) -> None:
    start_sms(stack, workers=0)
    campaign = {
        "name": "relance",
        "message": "Bonjour #name",
        "recipients": [{"phone": "+24177750737"}],
    }
    with stack.client() as client:
        for _ in range(5):
            assert client.post("/v1/campaigns", json=campaign).status_code == 202
        limited = client.post("/v1/campaigns", json=campaign)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 60
