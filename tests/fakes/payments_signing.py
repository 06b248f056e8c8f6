"""Signing webhooks the way Stripe and Monetbil do, written apart from the gateway's
verifier so the tests do not trust the code they check."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any


def stripe_event(
    event_type: str,
    payment_id: str | None,
    *,
    amount: int | None = None,
    currency: str = "usd",
    event_id: str | None = None,
) -> bytes:
    obj: dict[str, Any] = {
        "id": f"pi_{uuid.uuid4().hex[:16]}",
        "object": "payment_intent",
        "currency": currency,
        "metadata": {"payment_id": payment_id} if payment_id else {},
    }
    if amount is not None:
        obj["amount"] = amount
        obj["amount_received"] = amount
    body = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }
    return json.dumps(body).encode()


def stripe_header(payload: bytes, *secrets: str, at: float | None = None) -> str:
    """`t=...,v1=...` with one v1 per secret, as Stripe sends while a secret is rolled."""
    timestamp = int(time.time() if at is None else at)
    signatures = [
        hmac.new(s.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
        for s in secrets
    ]
    return ",".join([f"t={timestamp}", *(f"v1={sig}" for sig in signatures)])


def monetbil_form(secret: str, **fields: str) -> dict[str, str]:
    """The callback form with its `sign` field: md5(secret + values in key order)."""
    ordered = "".join(value for _, value in sorted(fields.items()))
    return {**fields, "sign": hashlib.md5(f"{secret}{ordered}".encode()).hexdigest()}


def monetbil_callback(
    secret: str, payment_id: str, transaction_id: str, amount: int, **extra: str
) -> dict[str, str]:
    fields = {
        "service": "svc_test",
        "transaction_id": transaction_id,
        "transaction_uuid": str(uuid.uuid4()),
        "phone": "237670000000",
        "amount": str(amount),
        "fee": "0",
        "status": "success",
        "message": "",
        "country_name": "Cameroon",
        "country_iso": "CM",
        "currency": "XAF",
        "operator": "CM_MTNMOBILEMONEY",
        "item_ref": payment_id,
        "payment_ref": "ref",
        **extra,
    }
    return monetbil_form(secret, **fields)
