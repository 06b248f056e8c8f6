"""SIGKILL of the payments worker mid-stream: after a restart every payment reached its
final state exactly once (nothing lost, nothing applied twice)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from tests.fakes.payments_signing import stripe_event, stripe_header
from tests.support import Stack, eventually

pytestmark = pytest.mark.e2e

SECRET = "whsec_crash_test"
PAYMENTS = 500


def _count(env: dict[str, Any], query: str) -> int:
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        row = connection.execute(query).fetchone()
        return int(row[0]) if row else 0


def test_sigkilled_worker_applies_each_of_500_webhooks_exactly_once_after_restart(
    stack: Stack, env: dict[str, Any]
) -> None:
    stack.start("gateway", STRIPE_WEBHOOK_SECRET=SECRET)
    stack.start("payments")
    stack.wait_ready()
    stack.wait_consuming("payments.stripe")
    payment_ids = [uuid.uuid4() for _ in range(PAYMENTS)]
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        connection.cursor().executemany(
            "INSERT INTO payments.payments (id, user_id, amount, currency, provider, reference) VALUES (%s, 'user-1', 1000, 'USD', 'stripe', 'crash')",
            [(payment_id,) for payment_id in payment_ids],
        )

    requests = []
    for payment_id in payment_ids:
        payload = stripe_event("payment_intent.succeeded", str(payment_id), amount=1000)
        requests.append((payload, stripe_header(payload, SECRET)))
    webhooks = stack.client(None)  # httpx.Client is thread-safe; one pool for all threads

    def post(request: tuple[bytes, str]) -> int:
        payload, signature = request
        headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
        return webhooks.post("/v1/webhooks/stripe", content=payload, headers=headers).status_code

    applied = "SELECT count(*) FROM payments.payment_events"
    with ThreadPoolExecutor(16) as pool:
        answers = pool.map(post, requests)
        eventually(lambda: _count(env, applied) >= 25, timeout=60, interval=0.02)
        stack.kill("payments")
        killed_at = _count(env, applied)
        assert killed_at < PAYMENTS, "the worker finished before it could be killed"
        stack.start("payments", replica=2)
        codes = list(answers)
    webhooks.close()
    assert codes == [200] * PAYMENTS

    succeeded = "SELECT count(*) FROM payments.payments WHERE status = 'succeeded'"
    eventually(lambda: _count(env, succeeded) == PAYMENTS, timeout=120, interval=0.2)
    assert _count(env, applied) == PAYMENTS
    twice = "SELECT count(*) FROM (SELECT payment_id FROM payments.payment_events GROUP BY payment_id HAVING count(*) <> 1) AS t"
    assert _count(env, twice) == 0
    processed = "SELECT count(*) FROM payments.webhook_events WHERE outcome = 'applied'"
    assert _count(env, processed) == PAYMENTS
