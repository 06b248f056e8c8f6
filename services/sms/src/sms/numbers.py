"""Phone numbers to E.164 with `phonenumbers` (libphonenumber's metadata)."""

from __future__ import annotations

import phonenumbers


class InvalidNumber(ValueError):
    pass


def to_e164(raw: str, region: str) -> str:
    """`+241 77 75 07 37` or (region GA) `077750737` -> `+24177750737`; InvalidNumber if not a number."""
    text = raw.strip()
    if not text:
        raise InvalidNumber("phone number is empty")
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as error:
        raise InvalidNumber(f"not a phone number: {raw!r} ({error})") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(
            f"not a valid phone number: {raw!r} (numbers without + are read as {region})"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
