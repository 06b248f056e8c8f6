"""What the compose tests do through the gateway: send, campaign, pay, notify, resize."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.fakes.payments_signing import stripe_event, stripe_header
from tests.support import eventually
from tests.support.compose import STRIPE_SECRET


def numbers(count: int, start: int) -> list[str]:
    """`count` distinct valid Gabonese mobile numbers (+241 77 xx xx xx)."""
    return [f"+24177{n:06d}" for n in range(start, start + count)]


def start_campaign(client: httpx.Client, phones: list[str], name: str) -> dict[str, Any]:
    recipients = [{"phone": phone, "name": f"Client {i}"} for i, phone in enumerate(phones)]
    answer = client.post(
        "/v1/campaigns",
        json={"name": name, "message": "Bonjour #name", "recipients": recipients},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    assert body["total"] == len(phones) and not body["rejected"], body
    return body


def progress(client: httpx.Client, campaign_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/campaigns/{campaign_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    # The contract's invariant, at every look.
    assert body["total"] == body["sent"] + body["failed"] + body["skipped"] + body["pending"], body
    return body


def progress_or_none(client: httpx.Client, campaign_id: str) -> dict[str, Any] | None:
    """Progress, or None while the gateway cannot answer (a backing service restarting)."""
    try:
        answer = client.get(f"/v1/campaigns/{campaign_id}")
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def wait_campaign_sent(client: httpx.Client, campaign_id: str, timeout: float) -> dict[str, Any]:
    def done() -> dict[str, Any]:
        body = progress_or_none(client, campaign_id)
        assert body is not None, "gateway not answering yet"
        assert body["pending"] == 0, body
        return body

    final = eventually(done, timeout=timeout, interval=1)
    assert final["sent"] == final["total"] and final["failed"] == 0, final
    return final


def create_payment(client: httpx.Client) -> dict[str, Any]:
    answer = client.post(
        "/v1/payments",
        json={"amount": 1500, "currency": "USD", "provider": "stripe",
              "reference": f"order-{uuid.uuid4().hex[:8]}"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    payment: dict[str, Any] = answer.json()
    return payment


def post_succeeded(client: httpx.Client, payment_id: str, event_id: str | None = None) -> str:
    """A signed `payment_intent.succeeded` for the payment; returns the event id."""
    event_id = event_id or f"evt_{uuid.uuid4().hex}"
    payload = stripe_event(
        "payment_intent.succeeded", payment_id, amount=1500, currency="usd", event_id=event_id
    )
    answer = client.post(
        "/v1/webhooks/stripe",
        content=payload,
        headers={"Content-Type": "application/json",
                 "Stripe-Signature": stripe_header(payload, STRIPE_SECRET)},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return event_id


def payment(client: httpx.Client, payment_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/payments/{payment_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def processed(metrics_text: str, queue: str) -> float:
    """relay_jobs_processed_total of `queue`, all outcomes, from a worker's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "relay_jobs_processed_total" and sample.labels.get("queue") == queue:
                total += sample.value
    return total
