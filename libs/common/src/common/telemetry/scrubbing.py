"""Personal data and secrets out of what leaves the runtime (Sentry events, payload previews).

Values under secret-looking keys (password, token, api_key, authorization, signature...)
become SCRUBBED; phone numbers keep their last two digits; bearer tokens and API keys
written in free text are cut. Applied to nested dicts, lists and strings alike.
"""

from __future__ import annotations

import re
from typing import Any

SCRUBBED = "[scrubbed]"
_SECRET_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "cookie",
    "session",
    "signature",
    "dsn",
)
_SECRET_NAMES = {"key", "sign", "auth", "csrf"}
_PHONE_NAMES = {"phone", "to", "from", "msisdn", "recipient", "number", "mobile"}
# E.164 and loosely written international numbers: a +, then 8 to 15 digits with spaces.
_PHONE = re.compile(r"\+\d(?:[ \-.]?\d){6,15}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# Relay's keys (rk_...) and the usual provider secrets (sk_live_..., whsec_...).
_KEY = re.compile(r"\b(rk|sk|pk|whsec)_[A-Za-z0-9_-]{6,}")


def _secret_key(name: str) -> bool:
    normal = name.lower().replace("-", "_")
    return normal in _SECRET_NAMES or any(part in normal for part in _SECRET_PARTS)


def _phone_key(name: str) -> bool:
    normal = name.lower().replace("-", "_")
    return normal in _PHONE_NAMES or normal.endswith("_phone")


def mask_phone(text: str, keep: int = 2) -> str:
    """Every digit but the last `keep` replaced: `+24177000012` -> `+•••••••••12`."""
    digits = sum(ch.isdigit() for ch in text)
    seen = 0
    masked = []
    for ch in text:
        if ch.isdigit():
            seen += 1
            masked.append(ch if seen > digits - keep else "•")
        else:
            masked.append(ch)
    return "".join(masked)


def scrub_text(text: str, keep: int = 2) -> str:
    """Phone numbers, bearer credentials and API keys in free text, masked."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {SCRUBBED}", text)
    text = _KEY.sub(lambda m: f"{m.group(1)}_{SCRUBBED}", text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0), keep), text)


def scrub(value: Any, key: str = "", keep: int = 2) -> Any:
    """`value` with secrets and phone numbers (all but `keep` digits) masked, recursively."""
    if key and _secret_key(key):
        return SCRUBBED if value not in (None, "") else value
    if isinstance(value, dict):
        return {k: scrub(v, str(k), keep) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item, key, keep) for item in value]
    if isinstance(value, str):
        if key and _phone_key(key) and any(ch.isdigit() for ch in value):
            return mask_phone(value, keep)
        return scrub_text(value, keep)
    return value
