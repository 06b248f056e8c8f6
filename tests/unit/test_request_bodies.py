"""Request bodies accept what their documented schema allows, and refuse the rest with a
validation error (a 422 at the gateway), never anything else."""

from __future__ import annotations

import re

import pytest
from gateway.ops.keys import NewKey
from hypothesis import given
from hypothesis import strategies as st
from payments.api.routes import CreatePayment
from pydantic import ValidationError
from tournaments.api.routes import NewPlayer
from tournaments.contracts import EMAIL_PATTERN


def payment(amount: object) -> dict[str, object]:
    return {"amount": amount, "currency": "XAF", "provider": "stripe", "reference": "r"}


def test_an_integral_float_amount_is_the_integer_it_names() -> None:
    assert CreatePayment.model_validate(payment(245278.0)).amount == 245278


@pytest.mark.parametrize("amount", [245278.5, "245278", True, 0.0])
def test_an_amount_that_is_not_a_positive_integer_is_refused(amount: object) -> None:
    with pytest.raises(ValidationError):
        CreatePayment.model_validate(payment(amount))


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as error:
        CreatePayment.model_validate({**payment(100), "amout": 100})
    assert error.value.errors()[0]["loc"] == ("amout",)


def test_a_user_key_without_its_user_is_refused_as_documented() -> None:
    schema = NewKey.model_json_schema()
    assert schema["then"]["required"] == ["user"]
    with pytest.raises(ValidationError):
        NewKey.model_validate({"scope": "user", "user": None})


@given(st.text(max_size=40) | st.from_regex(EMAIL_PATTERN, fullmatch=True))
def test_a_player_email_is_accepted_exactly_when_the_documented_pattern_allows_it(
    email: str,
) -> None:
    documented = re.fullmatch(EMAIL_PATTERN, email) is not None and len(email) <= 254
    try:
        NewPlayer.model_validate({"name": "n", "email": email})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == documented


def test_provider_callbacks_ignore_the_fields_providers_add() -> None:
    from sms.api.bodies import ReceiptRequest

    receipt = ReceiptRequest.model_validate(
        {"provider_id": "p-1", "status": " Delivered", "network": "MTN", "error_code": 0}
    )
    assert (receipt.provider_id, receipt.status) == ("p-1", "delivered")


@given(st.text(max_size=30) | st.from_regex(r"[A-Za-z0-9_.-]+:[^\x00-\x20\x7f]+", fullmatch=True))
def test_a_monitored_tag_is_accepted_exactly_when_the_documented_pattern_allows_it(
    tag: str,
) -> None:
    from gateway.ops.jobs import TagToMonitor

    schema = TagToMonitor.model_json_schema()["properties"]["tag"]
    # JSON Schema's `$` is the end of the text; Python's would also match before a last "\n".
    pattern = schema["pattern"].removesuffix("$") + r"\Z"
    documented = re.search(pattern, tag) is not None and len(tag) <= schema["maxLength"]
    try:
        TagToMonitor.model_validate({"tag": tag})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == documented, (tag, schema["pattern"])


def test_a_monitored_tag_holding_nul_is_refused_as_documented() -> None:
    from gateway.ops.jobs import TagToMonitor

    with pytest.raises(ValidationError):
        TagToMonitor.model_validate({"tag": "user:4\x002"})
