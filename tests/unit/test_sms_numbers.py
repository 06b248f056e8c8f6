"""The E.164 shortcut answers exactly as the full parse does, on every region's numbers."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberFormat
from sms.numbers import InvalidNumber, to_e164, valid_e164


def _parsed(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _samples() -> list[str]:
    """Every region's example numbers of every type, each with random last digits, and
    random digits after every country code."""
    pick = random.Random(20261130)
    samples = []
    for country_code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            for number_type in range(11):
                example = phonenumbers.example_number_for_type(region, number_type)
                if example is None:
                    continue
                text = phonenumbers.format_number(example, PhoneNumberFormat.E164)
                samples.append(text)
                samples += [text[:-3] + f"{pick.randint(0, 999):03d}" for _ in range(5)]
        samples += [
            f"+{country_code}" + "".join(pick.choices("0123456789", k=pick.randint(5, 12)))
            for _ in range(20)
        ]
    return samples


def test_the_shortcut_says_yes_only_where_the_full_parse_gives_the_same_number() -> None:
    samples = _samples()
    accepted = [text for text in samples if valid_e164(text)]
    assert len(accepted) > len(samples) // 3  # the shortcut is the common path
    assert [text for text in accepted if _parsed(text) != text] == []


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+24177750737", "GA", "+24177750737"),
        ("+241 77 75 07 37", "GA", "+24177750737"),
        ("077750737", "GA", "+24177750737"),
        ("+393123456789", "GA", "+393123456789"),
        ("+390612345678", "GA", "+390612345678"),  # Italy's leading zero: the full parse
    ],
)
def test_to_e164(raw: str, region: str, expected: str) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "+2417", "+99912345678", "hello", "+241000000000"])
def test_not_a_number(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        to_e164(raw, "GA")
