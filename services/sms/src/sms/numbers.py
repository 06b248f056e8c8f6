"""Phone numbers to E.164 with `phonenumbers` (libphonenumber's metadata)."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumber

_E164 = re.compile(r"\+[1-9]\d{7,14}")


class InvalidNumber(ValueError):
    pass


def valid_e164(text: str) -> bool:
    """`text` is already a valid number in E.164 form (`+24177750737`).

    A campaign upload checks 100,000s of numbers, nearly all written this way, and
    `phonenumbers.parse` is three quarters of the cost of each. Country calling codes are
    prefix-free, so the code is the first 1 to 3 digits that name one; the rest is the
    national number. A national number with a leading zero (Italy) or anything this does
    not accept goes through `parse` as before, so this only ever answers yes where `to_e164`
    would return `text` itself (tests/unit/test_sms_numbers.py compares both).
    """
    if not _E164.fullmatch(text):
        return False
    for size in (1, 2, 3):
        country_code = int(text[1 : 1 + size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            national = text[1 + size :]
            return national[0] != "0" and phonenumbers.is_valid_number(
                PhoneNumber(country_code=country_code, national_number=int(national))
            )
    return False


def to_e164(raw: str, region: str) -> str:
    """`+241 77 75 07 37` or (region GA) `077750737` -> `+24177750737`; InvalidNumber if not a number."""
    text = raw.strip()
    if not text:
        raise InvalidNumber("phone number is empty")
    if valid_e164(text):
        return text
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as error:
        raise InvalidNumber(f"not a phone number: {raw!r} ({error})") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(
            f"not a valid phone number: {raw!r} (numbers without + are read as {region})"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
