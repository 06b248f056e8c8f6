"""Webhook signature checks (payments.signatures), against independently signed input."""

from __future__ import annotations

import pytest
from payments.signatures import InvalidSignature, verify_monetbil, verify_stripe

from tests.fakes.payments_signing import monetbil_form, stripe_header

NOW = 1_750_000_000.0
BODY = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
SECRET = "whsec_unit"


def check(header: str | None, body: bytes = BODY, secrets: tuple[str, ...] = (SECRET,)) -> None:
    verify_stripe(body, header, list(secrets), tolerance=300, now=NOW)


def test_valid_signature_passes() -> None:
    check(stripe_header(BODY, SECRET, at=NOW))


@pytest.mark.parametrize("skew", [-300, 300, 0])
def test_timestamp_at_the_edge_of_the_window_passes(skew: int) -> None:
    check(stripe_header(BODY, SECRET, at=NOW + skew))


@pytest.mark.parametrize(
    ("name", "header", "body"),
    [
        ("wrong secret", stripe_header(BODY, "whsec_other", at=NOW), BODY),
        ("tampered body", stripe_header(BODY, SECRET, at=NOW), BODY + b" "),
        ("missing header", None, BODY),
        ("empty header", "", BODY),
        ("stale", stripe_header(BODY, SECRET, at=NOW - 301), BODY),
        ("future", stripe_header(BODY, SECRET, at=NOW + 301), BODY),
        ("no v1", f"t={int(NOW)},v0=abc", BODY),
        ("no timestamp", "v1=abc", BODY),
        ("non-ascii signature", f"t={int(NOW)},v1=é", BODY),
    ],
)
def test_bad_signatures_are_refused(name: str, header: str | None, body: bytes) -> None:
    with pytest.raises(InvalidSignature):
        check(header, body)


def test_any_of_several_v1_signatures_may_match_during_a_secret_roll() -> None:
    check(stripe_header(BODY, "whsec_old", SECRET, at=NOW))
    check(stripe_header(BODY, SECRET, "whsec_new", at=NOW))


def test_either_configured_secret_verifies() -> None:
    check(stripe_header(BODY, "whsec_old", at=NOW), secrets=(SECRET, "whsec_old"))


def test_no_configured_secret_refuses_everything() -> None:
    with pytest.raises(InvalidSignature):
        check(stripe_header(BODY, SECRET, at=NOW), secrets=())


def test_monetbil_sign_over_sorted_values() -> None:
    form = monetbil_form(
        "s3cret", transaction_id="tx1", amount="500", item_ref="p1", status="success"
    )
    verify_monetbil(form, "s3cret")
    verify_monetbil({**form, "sign": form["sign"].upper()}, "s3cret")
    for bad in (
        {**form, "amount": "5"},
        {k: v for k, v in form.items() if k != "sign"},
        {**form, "extra": "x"},
    ):
        with pytest.raises(InvalidSignature):
            verify_monetbil(bad, "s3cret")
    with pytest.raises(InvalidSignature):
        verify_monetbil(form, "other")
