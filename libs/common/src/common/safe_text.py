"""Text that Postgres and JSON can always hold, made from whatever a message carries.

A foreign producer may send anything: bytes that are not UTF-8, NUL bytes (which neither
Postgres `text` nor `jsonb` accept, even escaped as \\u0000), headers holding bytes,
decimals, timestamps, NaN or nested tables. Storing such a message must never fail on
its text, so every string the runtime writes about a message passes through here.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
from typing import Any

# The longest preview of a body kept as text next to its exact bytes.
PREVIEW_CHARS = 64 * 1024


def storable(text: str, limit: int | None = None) -> str:
    """`text` without NUL or lone surrogates (shown escaped), cut to `limit` characters."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}… [{len(text) - limit} more characters]"
    return text


def decoded(value: bytes | str) -> str:
    """`value` as storable text: bytes decoded as UTF-8, undecodable bytes escaped."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    return storable(value)


def jsonable(value: Any) -> Any:
    """`value` (e.g. AMQP headers) as plain JSON data that `jsonb` accepts, recursively."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str | bytes):
        return decoded(value)
    if isinstance(value, dict):
        return {decoded(str(key)): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return storable(repr(value), 1000)


def body_preview(body: bytes) -> tuple[str, bool]:
    """A text preview of `body` and whether it is the body itself (UTF-8, no NUL, short).

    Otherwise the preview says what the body is: its size, and its start decoded with
    undecodable bytes escaped.
    """
    if len(body) <= PREVIEW_CHARS and b"\x00" not in body:
        try:
            return body.decode("utf-8"), True
        except UnicodeDecodeError:
            pass
    if not body:
        return "", True
    head = storable(body[:PREVIEW_CHARS].decode("utf-8", "backslashreplace"), PREVIEW_CHARS)
    return f"[{len(body)} bytes, shown escaped] {head}", False


def preview_payload(preview: str, exact: bool) -> Any:
    """What an API shows of a body: its JSON when the preview is the whole body and JSON,
    else the preview text."""
    if not exact:
        return preview
    try:
        return json.loads(preview)
    except ValueError:
        return preview
