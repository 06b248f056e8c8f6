"""The outbox: a write-then-publish path never left half-done when the broker is down.

The gateway reaches RabbitMQ through a proxy the test cuts; the workers reach it directly.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest

from tests.fakes.payments_signing import stripe_event, stripe_header
from tests.support import Stack, eventually, proxied

pytestmark = pytest.mark.e2e

SECRET = "whsec_outbox_0123456789"
SWEEP = {"OUTBOX_SWEEP_AFTER": "1", "OUTBOX_SWEEP_INTERVAL": "0.5"}


def count(env: dict[str, Any], query: str) -> int:
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        row = connection.execute(query).fetchone()
        return int(row[0]) if row else 0


def test_webhook_answered_503_while_the_broker_is_down_is_applied_once_it_is_back(
    stack: Stack, env: dict[str, Any]
) -> None:
    with proxied(env["RABBITMQ_URL"], 5672) as rabbit:
        stack.start(
            "gateway",
            RABBITMQ_URL=rabbit.url(env["RABBITMQ_URL"]),
            STRIPE_WEBHOOK_SECRET=SECRET,
            **SWEEP,
        )
        stack.start("payments", STRIPE_WEBHOOK_SECRET=SECRET)
        stack.wait_ready()
        stack.wait_consuming("payments.stripe")
        with stack.client() as client:
            payment = client.post(
                "/v1/payments",
                json={"amount": 1500, "currency": "USD", "provider": "stripe", "reference": "o-1"},
            ).json()
            payload = stripe_event("payment_intent.succeeded", payment["id"], amount=1500)
            headers = {
                "Stripe-Signature": stripe_header(payload, SECRET),
                "Content-Type": "application/json",
            }
            rabbit.cut()
            started = time.monotonic()
            answer = client.post("/v1/webhooks/stripe", content=payload, headers=headers)
            assert answer.status_code == 503 and "Retry-After" in answer.headers
            assert time.monotonic() - started < 5
            assert count(env, "SELECT count(*) FROM runtime.outbox") == 1, "the job is kept"
            assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"

            rabbit.restore()  # and the provider never sends the event again

            def applied() -> bool:
                shown = client.get(f"/v1/payments/{payment['id']}").json()
                return bool(shown["status"] == "succeeded")

            eventually(applied, timeout=60, interval=0.2)
        assert count(env, "SELECT count(*) FROM runtime.outbox") == 0
        assert count(env, "SELECT count(*) FROM payments.webhook_events") == 1


def test_single_send_refused_by_the_broker_leaves_no_row_and_no_job(
    stack: Stack, env: dict[str, Any]
) -> None:
    with proxied(env["RABBITMQ_URL"], 5672) as rabbit:
        stack.start("gateway", RABBITMQ_URL=rabbit.url(env["RABBITMQ_URL"]), **SWEEP)
        stack.wait_ready()
        with stack.client(**{"Idempotency-Key": str(uuid.uuid4())}) as client:
            rabbit.cut()
            answer = client.post("/v1/sms", json={"to": "+15005550006", "message": "hi"})
            assert answer.status_code == 503
        # Withdrawn with its row before the answer: the sweeper has nothing to send later.
        assert count(env, "SELECT count(*) FROM sms.messages") == 0
        assert count(env, "SELECT count(*) FROM runtime.outbox") == 0
