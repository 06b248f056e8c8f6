"""Webhook signature checks: Stripe's HMAC header and Monetbil's md5 `sign` field."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence


class InvalidSignature(Exception):
    """The request is not provably from the provider; the message says why."""

    @property
    def public(self) -> str:
        """What the (anonymous) caller is told."""
        return str(self)


class NotConfigured(InvalidSignature):
    """No signature can be verified: the secret is not set. The caller is told no more
    than for a bad signature (configuration is not an anonymous caller's business); the
    message, which names the setting, is for the log."""

    @property
    def public(self) -> str:
        return "the signature does not verify"


def stripe_signature(secret: str, timestamp: int | str, payload: bytes) -> str:
    """The `v1` signature Stripe computes: HMAC-SHA256 of `{t}.{raw body}`, hex."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_stripe(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: float,
    now: float,
) -> None:
    """Raise InvalidSignature unless `header` (`t=..,v1=..[,v1=..]`) signs `payload`.

    As in Stripe's own libraries: any `v1` entry may match (Stripe sends one per active
    secret while one is rolled), the comparison is constant-time, and the timestamp must
    be within `tolerance` seconds of now, in the past or the future (replays).
    See https://docs.stripe.com/webhooks#verify-manually.
    """
    if not secrets:
        raise NotConfigured("STRIPE_WEBHOOK_SECRET is not configured")
    if not header:
        raise InvalidSignature("missing Stripe-Signature header")
    timestamp: str | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value.encode("utf-8", errors="replace"))
    if timestamp is None or not timestamp.isdigit():
        raise InvalidSignature("Stripe-Signature has no timestamp (t=...)")
    if not signatures:
        raise InvalidSignature("Stripe-Signature has no v1 signature")
    if abs(now - int(timestamp)) > tolerance:
        raise InvalidSignature("Stripe-Signature timestamp is outside the tolerance window")
    matched = False
    for secret in secrets:
        expected = stripe_signature(secret, timestamp, payload).encode()
        for signature in signatures:
            # No early exit: every candidate is compared, in constant time.
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise InvalidSignature("no Stripe-Signature v1 signature matches the payload")


def monetbil_sign(secret: str, fields: Mapping[str, str]) -> str:
    """md5(service secret + the values of every field but `sign`, in key order)."""
    values = "".join(fields[key] for key in sorted(fields) if key != "sign")
    return hashlib.md5((secret + values).encode()).hexdigest()


def verify_monetbil(fields: Mapping[str, str], secret: str) -> None:
    """Raise InvalidSignature unless the form's `sign` is right for `secret`."""
    if not secret:
        raise NotConfigured("MONETBIL_SERVICE_SECRET is not configured")
    sign = fields.get("sign", "")
    if not sign:
        raise InvalidSignature("missing sign")
    expected = monetbil_sign(secret, fields).encode()
    if not hmac.compare_digest(expected, sign.strip().lower().encode("utf-8", errors="replace")):
        raise InvalidSignature("bad sign")
