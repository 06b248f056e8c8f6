"""What leaves the runtime (Sentry events, payload previews) carries no secrets or full numbers."""

from __future__ import annotations

from common.telemetry.scrubbing import SCRUBBED, mask_phone, scrub, scrub_text


def test_secret_named_values_are_replaced_at_any_depth() -> None:
    event = {
        "request": {"headers": {"Authorization": "Bearer rk_abc", "X-Api-Key": "k"}},
        "extra": [{"password": "hunter2", "stripe_secret": "whsec_x", "sign": "abc"}],
        "ok": {"queue": "q", "attempt": 2, "token": None},
    }
    scrubbed = scrub(event)
    assert scrubbed["request"]["headers"] == {"Authorization": SCRUBBED, "X-Api-Key": SCRUBBED}
    assert scrubbed["extra"] == [
        {"password": SCRUBBED, "stripe_secret": SCRUBBED, "sign": SCRUBBED}
    ]
    assert scrubbed["ok"] == {"queue": "q", "attempt": 2, "token": None}


def test_phone_numbers_keep_only_their_last_two_digits() -> None:
    assert mask_phone("+24177000012") == "+•••••••••12"
    assert scrub({"to": "077 75 07 37"}) == {"to": "••• •• •• 37"}
    assert scrub_text("refused +241 77 12 34 56 today") == "refused +••• •• •• •• 56 today"


def test_keys_and_bearer_credentials_in_free_text_are_cut() -> None:
    text = scrub_text("401 for Bearer abc.def-123 with rk_live0123456789 and sk_test_abcdefgh")
    assert "abc.def-123" not in text and "0123456789" not in text and "abcdefgh" not in text
    assert "Bearer [scrubbed]" in text and "rk_[scrubbed]" in text


def test_ids_and_timestamps_are_left_alone() -> None:
    text = "message 3f2a1b4c-0d5e-4f6a-8b7c-9d0e1f2a3b4c at 2026-11-30 07:31:54, 1764487914"
    assert scrub_text(text) == text
    assert scrub({"sms_id": "12345678-1234-1234-1234-123456789012"})["sms_id"].startswith("1234")
