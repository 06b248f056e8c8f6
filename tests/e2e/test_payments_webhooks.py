"""Payments through the gateway and the payments worker: webhooks verified, stored,
queued and applied once; Monetbil confirmed against a fake checkPayment on localhost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pika
import psycopg
import pytest

from tests.fakes.payments_monetbil import FakeMonetbilCheck
from tests.fakes.payments_signing import (
    monetbil_callback,
    stripe_event,
    stripe_header,
)
from tests.support import (
    ADMIN_KEY,
    OTHER_KEY,
    ServiceUrls,
    Stack,
    eventually,
    fresh_database,
    fresh_vhost,
)

pytestmark = pytest.mark.e2e

SECRET = "whsec_current_0123456789"
OLD_SECRET = "whsec_previous_9876543210"
MONETBIL_SECRET = "monetbil-service-secret"
RETRY_DELAY = 1.5
WORKER_ENV = {
    "JOB_RETRY_DELAYS": f"{RETRY_DELAY},{RETRY_DELAY}",
    "JOB_MAX_ATTEMPTS": "3",
    "MONETBIL_CHECK_TRIES": "2",
    "MONETBIL_CHECK_TIMEOUT": "2",
}


# --- helpers -------------------------------------------------------------------------


def queue_depth(env: dict[str, Any], queue: str) -> int:
    """Messages ready in `queue`, read exactly with a passive declare (no stats lag)."""
    connection = pika.BlockingConnection(pika.URLParameters(env["RABBITMQ_URL"]))
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        return int(declared.method.message_count)
    finally:
        connection.close()


def sql(env: dict[str, Any], query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        return connection.execute(query, args).fetchall()


def create_payment(
    client: httpx.Client, provider: str = "stripe", amount: int = 1500, currency: str = "USD"
) -> dict[str, Any]:
    answer = client.post(
        "/v1/payments",
        json={
            "amount": amount,
            "currency": currency,
            "provider": provider,
            "reference": f"order-{uuid.uuid4().hex[:6]}",
        },
    )
    assert answer.status_code == 201, answer.text
    payment: dict[str, Any] = answer.json()
    return payment


def post_stripe(client: httpx.Client, payload: bytes, header: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post("/v1/webhooks/stripe", content=payload, headers=headers)


def signed(client: httpx.Client, payload: bytes) -> httpx.Response:
    return post_stripe(client, payload, stripe_header(payload, SECRET))


def wait_for_status(
    client: httpx.Client, payment_id: str, status: str, timeout: float = 30
) -> dict[str, Any]:
    def reached() -> dict[str, Any]:
        payment: dict[str, Any] = client.get(f"/v1/payments/{payment_id}").json()
        assert payment["status"] == status, payment
        return payment

    return eventually(reached, timeout=timeout, interval=0.1)


def failed_jobs_of(admin: httpx.Client, queue: str, event_id: str) -> list[dict[str, Any]]:
    jobs = admin.get("/v1/ops/failed", params={"queue": queue}).json()
    return [
        job
        for job in jobs
        if isinstance(job["payload"], dict) and job["payload"].get("event_id") == event_id
    ]


def event_outcome(env: dict[str, Any], provider: str, event_id: str) -> str | None:
    rows = sql(
        env,
        "SELECT outcome FROM payments.webhook_events WHERE provider = %s AND event_id = %s",
        provider,
        event_id,
    )
    return rows[0][0] if rows else None


# --- a gateway and a payments worker shared by this module's tests ---------------------


@pytest.fixture(scope="module")
def monetbil() -> Iterator[FakeMonetbilCheck]:
    fake = FakeMonetbilCheck().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def payments(
    services: ServiceUrls, monetbil: FakeMonetbilCheck
) -> Iterator[tuple[Stack, dict[str, Any]]]:
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        env = {
            "RABBITMQ_URL": vhost,
            "RABBITMQ_MANAGEMENT_URL": services.management,
            "DATABASE_URL": database,
            "REDIS_URL": services.redis,
            "REDIS_KEY_PREFIX": f"test:{uuid.uuid4().hex[:10]}:",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "MONETBIL_SERVICE_SECRET": MONETBIL_SECRET,
            "MONETBIL_CHECK_URL": monetbil.url,
            **WORKER_ENV,
        }
        stack = Stack(env, name="payments_webhooks")
        try:
            stack.start("gateway")
            stack.start("payments")
            stack.wait_ready()
            stack.wait_consuming("payments.stripe")
            stack.wait_consuming("payments.monetbil")
            yield stack, env
        finally:
            stack.stop()


@pytest.fixture
def client(payments: tuple[Stack, dict[str, Any]]) -> Iterator[httpx.Client]:
    with payments[0].client() as user:
        yield user


@pytest.fixture
def admin(payments: tuple[Stack, dict[str, Any]]) -> Iterator[httpx.Client]:
    with payments[0].client(ADMIN_KEY) as operator:
        yield operator


# --- payments API ----------------------------------------------------------------------


def test_payment_is_created_pending_and_visible_only_to_its_owner(
    payments: tuple[Stack, dict[str, Any]], client: httpx.Client
) -> None:
    payment = create_payment(client, amount=2500, currency="eur")
    assert (
        payment["status"] == "pending" and payment["currency"] == "EUR" and payment["flag"] is None
    )
    shown = client.get(f"/v1/payments/{payment['id']}").json()
    assert shown["amount"] == 2500 and shown["provider"] == "stripe" and shown["events"] == []
    with payments[0].client(OTHER_KEY) as other:
        assert other.get(f"/v1/payments/{payment['id']}").status_code == 404
    for bad, field in (
        ({"amount": 0}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"provider": "paypal"}, "provider"),
        ({"currency": "EURO"}, "currency"),
    ):
        body = {"amount": 100, "currency": "USD", "provider": "stripe", "reference": "r", **bad}
        answer = client.post("/v1/payments", json=body)
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field


# --- Stripe ----------------------------------------------------------------------------


def test_stripe_events_move_the_payment_forward_only(
    payments: tuple[Stack, dict[str, Any]], client: httpx.Client
) -> None:
    env = payments[1]
    payment = create_payment(client)
    succeeded = stripe_event("payment_intent.succeeded", payment["id"], amount=1500)
    assert signed(client, succeeded).status_code == 200
    wait_for_status(client, payment["id"], "succeeded")
    assert (
        signed(client, stripe_event("charge.refunded", payment["id"], amount=1500)).status_code
        == 200
    )
    wait_for_status(client, payment["id"], "refunded")

    late_failure = stripe_event(
        "payment_intent.payment_failed", payment["id"], event_id=f"evt_late_{uuid.uuid4().hex}"
    )
    other_type = stripe_event("customer.created", None, event_id=f"evt_other_{uuid.uuid4().hex}")
    assert signed(client, late_failure).status_code == 200
    assert signed(client, other_type).status_code == 200
    late_id = late_failure.decode().split('"id": "', 1)[1].split('"', 1)[0]
    other_id = other_type.decode().split('"id": "', 1)[1].split('"', 1)[0]
    eventually(lambda: event_outcome(env, "stripe", late_id) == "stale", timeout=30)
    eventually(lambda: event_outcome(env, "stripe", other_id) == "ignored", timeout=30)

    final = client.get(f"/v1/payments/{payment['id']}").json()
    assert final["status"] == "refunded"
    assert [event["type"] for event in final["events"]] == [
        "payment_intent.succeeded",
        "charge.refunded",
    ]
    assert all(event["provider"] == "stripe" for event in final["events"])


def test_same_stripe_event_posted_20_times_concurrently_changes_the_payment_once(
    payments: tuple[Stack, dict[str, Any]], client: httpx.Client
) -> None:
    stack, env = payments
    payment = create_payment(client)
    event_id = f"evt_dup_{uuid.uuid4().hex}"
    payload = stripe_event(
        "payment_intent.succeeded", payment["id"], amount=1500, event_id=event_id
    )

    def post(_: int) -> int:
        with stack.client(None) as anonymous:
            return signed(anonymous, payload).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(post, range(20)))
    assert codes == [200] * 20
    wait_for_status(client, payment["id"], "succeeded")
    # Let every queued duplicate be consumed before counting.
    eventually(lambda: queue_depth(env, "payments.stripe") == 0, timeout=30)
    shown = client.get(f"/v1/payments/{payment['id']}").json()
    assert [event["event_id"] for event in shown["events"]] == [event_id]
    changes = sql(
        env,
        "SELECT count(*) FROM payments.payment_events WHERE payment_id = %s",
        uuid.UUID(payment["id"]),
    )
    assert changes == [(1,)]
    assert sql(
        env, "SELECT count(*) FROM payments.webhook_events WHERE event_id = %s", event_id
    ) == [(1,)]


def test_refund_arriving_before_success_is_retried_until_it_applies(
    payments: tuple[Stack, dict[str, Any]], client: httpx.Client
) -> None:
    env = payments[1]
    payment = create_payment(client)
    assert (
        signed(client, stripe_event("charge.refunded", payment["id"], amount=1500)).status_code
        == 200
    )
    # The refund's first attempt fails (nothing to refund yet) and waits in its retry tier.
    tier = f"payments.stripe.retry.{RETRY_DELAY:g}s"
    eventually(lambda: queue_depth(env, tier) == 1, timeout=30, interval=0.05)
    assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"

    assert (
        signed(
            client, stripe_event("payment_intent.succeeded", payment["id"], amount=1500)
        ).status_code
        == 200
    )
    final = wait_for_status(client, payment["id"], "refunded")
    assert [event["type"] for event in final["events"]] == [
        "payment_intent.succeeded",
        "charge.refunded",
    ]


def test_stripe_amount_mismatch_is_flagged_and_never_succeeded(
    payments: tuple[Stack, dict[str, Any]], client: httpx.Client
) -> None:
    env = payments[1]
    payment = create_payment(client, amount=1500)
    payload = stripe_event("payment_intent.succeeded", payment["id"], amount=15)
    event_id = payload.decode().split('"id": "', 1)[1].split('"', 1)[0]
    assert signed(client, payload).status_code == 200
    eventually(lambda: event_outcome(env, "stripe", event_id) == "flagged", timeout=30)
    shown = client.get(f"/v1/payments/{payment['id']}").json()
    assert (
        shown["status"] == "pending"
        and shown["flag"] == "amount_mismatch"
        and shown["events"] == []
    )


# --- Monetbil --------------------------------------------------------------------------


def post_monetbil(client: httpx.Client, form: dict[str, str]) -> httpx.Response:
    return client.post("/v1/webhooks/monetbil", data=form)


def test_monetbil_confirmed_callback_marks_the_payment_succeeded(
    client: httpx.Client, monetbil: FakeMonetbilCheck
) -> None:
    payment = create_payment(client, provider="monetbil", amount=5000, currency="XAF")
    transaction = f"tx-{uuid.uuid4().hex[:12]}"
    monetbil.confirm(transaction, amount=5000, currency="XAF")
    answer = post_monetbil(
        client, monetbil_callback(MONETBIL_SECRET, payment["id"], transaction, 5000)
    )
    assert answer.status_code == 200
    assert answer.text == "received" and answer.headers["content-type"].startswith("text/plain")
    final = wait_for_status(client, payment["id"], "succeeded")
    assert (
        final["events"][0]["provider"] == "monetbil"
        and final["events"][0]["event_id"] == transaction
    )
    assert monetbil.count(transaction) == 1


def test_monetbil_bad_sign_is_403_and_nothing_is_stored(
    payments: tuple[Stack, dict[str, Any]], client: httpx.Client
) -> None:
    env = payments[1]
    payment = create_payment(client, provider="monetbil", amount=5000, currency="XAF")
    transaction = f"tx-{uuid.uuid4().hex[:12]}"
    wrong_secret = monetbil_callback("not-the-secret", payment["id"], transaction, 5000)
    tampered = {
        **monetbil_callback(MONETBIL_SECRET, payment["id"], transaction, 5000),
        "amount": "5",
    }
    unsigned = {k: v for k, v in tampered.items() if k != "sign"}
    for form in (wrong_secret, tampered, unsigned):
        assert post_monetbil(client, form).status_code == 403
    assert sql(
        env, "SELECT count(*) FROM payments.webhook_events WHERE event_id = %s", transaction
    ) == [(0,)]


def test_monetbil_check_saying_failed_marks_the_payment_failed(
    client: httpx.Client, monetbil: FakeMonetbilCheck
) -> None:
    payment = create_payment(client, provider="monetbil", amount=5000, currency="XAF")
    transaction = f"tx-{uuid.uuid4().hex[:12]}"
    monetbil.fail(transaction, amount=5000)
    # The callback claims success; Monetbil's own check has the last word.
    form = monetbil_callback(MONETBIL_SECRET, payment["id"], transaction, 5000, status="success")
    assert post_monetbil(client, form).status_code == 200
    final = wait_for_status(client, payment["id"], "failed")
    assert [event["type"] for event in final["events"]] == ["checkPayment.failed"]


def test_monetbil_amount_mismatch_is_flagged_and_never_succeeded(
    payments: tuple[Stack, dict[str, Any]], client: httpx.Client, monetbil: FakeMonetbilCheck
) -> None:
    env = payments[1]
    payment = create_payment(client, provider="monetbil", amount=5000, currency="XAF")
    transaction = f"tx-{uuid.uuid4().hex[:12]}"
    monetbil.confirm(transaction, amount=50, currency="XAF")
    assert (
        post_monetbil(
            client, monetbil_callback(MONETBIL_SECRET, payment["id"], transaction, 5000)
        ).status_code
        == 200
    )
    eventually(lambda: event_outcome(env, "monetbil", transaction) == "flagged", timeout=30)
    shown = client.get(f"/v1/payments/{payment['id']}").json()
    assert (
        shown["status"] == "pending"
        and shown["flag"] == "amount_mismatch"
        and shown["events"] == []
    )


def test_monetbil_check_down_is_retried_then_lands_in_the_failed_store(
    client: httpx.Client, admin: httpx.Client, monetbil: FakeMonetbilCheck
) -> None:
    payment = create_payment(client, provider="monetbil", amount=5000, currency="XAF")
    transaction = f"tx-{uuid.uuid4().hex[:12]}"
    monetbil.down(transaction)
    assert (
        post_monetbil(
            client, monetbil_callback(MONETBIL_SECRET, payment["id"], transaction, 5000)
        ).status_code
        == 200
    )
    failed = eventually(
        lambda: failed_jobs_of(admin, "payments.monetbil", transaction), timeout=45, interval=0.2
    )
    assert failed[0]["attempts"] == 3 and "503" in failed[0]["error"]
    # 3 job attempts (JOB_MAX_ATTEMPTS), each with MONETBIL_CHECK_TRIES=2 quick tries.
    assert monetbil.count(transaction) == 6
    assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def test_rejected_check_fails_without_retry_and_succeeds_when_retried_after_the_fix(
    client: httpx.Client, admin: httpx.Client, monetbil: FakeMonetbilCheck
) -> None:
    payment = create_payment(client, provider="monetbil", amount=5000, currency="XAF")
    transaction = f"tx-{uuid.uuid4().hex[:12]}"
    monetbil.reject(transaction)
    assert (
        post_monetbil(
            client, monetbil_callback(MONETBIL_SECRET, payment["id"], transaction, 5000)
        ).status_code
        == 200
    )
    failed = eventually(
        lambda: failed_jobs_of(admin, "payments.monetbil", transaction), timeout=30, interval=0.2
    )
    assert failed[0]["attempts"] == 1 and "CheckRejected" in failed[0]["error"]
    assert monetbil.count(transaction) == 1

    monetbil.confirm(transaction, amount=5000)  # the cause is fixed
    assert admin.post(f"/v1/ops/failed/{failed[0]['id']}/retry").status_code == 202
    wait_for_status(client, payment["id"], "succeeded")
    assert failed_jobs_of(admin, "payments.monetbil", transaction) == []


def test_laravel_runbook_lists_retries_forgets_and_flushes_payment_jobs(
    payments: tuple[Stack, dict[str, Any]],
    client: httpx.Client,
    admin: httpx.Client,
    monetbil: FakeMonetbilCheck,
) -> None:
    env = payments[1]
    cli_env = {**os.environ, **env}

    def relay(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    transactions = {}
    for name in ("fixed", "forgotten", "flushed"):
        payment = create_payment(client, provider="monetbil", amount=700, currency="XAF")
        transaction = f"tx-{name}-{uuid.uuid4().hex[:8]}"
        monetbil.reject(transaction)
        form = monetbil_callback(MONETBIL_SECRET, payment["id"], transaction, 700)
        assert post_monetbil(client, form).status_code == 200
        transactions[name] = (payment["id"], transaction)
    for _, transaction in transactions.values():
        eventually(lambda t=transaction: failed_jobs_of(admin, "payments.monetbil", t), timeout=30)

    listed = json.loads(relay("failed", "list", "--queue", "payments.monetbil", "--json"))
    by_event = {job["payload"]["event_id"]: job["id"] for job in listed}
    fixed_payment, fixed_tx = transactions["fixed"]
    _, forgotten_tx = transactions["forgotten"]
    assert {fixed_tx, forgotten_tx, transactions["flushed"][1]} <= set(by_event)

    monetbil.confirm(fixed_tx, amount=700)
    relay("failed", "retry", by_event[fixed_tx])
    wait_for_status(client, fixed_payment, "succeeded")
    # forget and flush through the API (the CLI's are the same store calls, covered by
    # the gateway's runbook test; each CLI run costs a process start-up).
    assert admin.delete(f"/v1/ops/failed/{by_event[forgotten_tx]}").status_code == 204
    assert failed_jobs_of(admin, "payments.monetbil", forgotten_tx) == []
    remaining = admin.get("/v1/ops/failed", params={"queue": "payments.monetbil"}).json()
    assert transactions["flushed"][1] in {job["payload"]["event_id"] for job in remaining}
    flushed = admin.delete("/v1/ops/failed", params={"queue": "payments.monetbil"})
    assert flushed.status_code == 200 and flushed.json()["flushed"] == len(remaining)
    assert admin.get("/v1/ops/failed", params={"queue": "payments.monetbil"}).json() == []


# --- signatures (gateway only, so queued jobs stay countable) ---------------------------


def test_stripe_signature_cases_store_and_queue_only_verified_events(
    stack: Stack, env: dict[str, Any]
) -> None:
    stack.start("gateway", STRIPE_WEBHOOK_SECRET=SECRET)
    stack.wait_ready()
    now = time.time()

    def case(body: bytes, header: str | None, payload: bytes | None = None) -> int:
        with stack.client(None) as anonymous:
            return post_stripe(
                anonymous, payload if payload is not None else body, header
            ).status_code

    valid = stripe_event("payment_intent.succeeded", str(uuid.uuid4()), amount=100)
    rotated = stripe_event("payment_intent.succeeded", str(uuid.uuid4()), amount=100)
    refused = {
        "wrong secret": (
            b := stripe_event("charge.refunded", None),
            stripe_header(b, "whsec_wrong"),
            None,
        ),
        "tampered body": (
            b := stripe_event("charge.refunded", None),
            stripe_header(b, SECRET),
            b.replace(b"refunded", b"refunded "),
        ),
        "missing header": (b := stripe_event("charge.refunded", None), None, None),
        "stale (-400 s)": (
            b := stripe_event("charge.refunded", None),
            stripe_header(b, SECRET, at=now - 400),
            None,
        ),
        "future (+400 s)": (
            b := stripe_event("charge.refunded", None),
            stripe_header(b, SECRET, at=now + 400),
            None,
        ),
        "garbage header": (b := stripe_event("charge.refunded", None), "t=abc,v1=zz", None),
    }
    for name, (body, header, sent) in refused.items():
        assert case(body, header, sent) == 400, name
    assert case(valid, stripe_header(valid, SECRET)) == 200
    # While a secret is rolled Stripe sends one v1 per secret; ours is the second.
    assert case(rotated, stripe_header(rotated, OLD_SECRET, SECRET)) == 200
    # Verified but unstorable (jsonb refuses \u0000): a clear 400, never a 500.
    nul = b'{"id": "evt_nul", "type": "charge.refunded", "data": {"object": {"id": "ch_\\u0000"}}}'
    assert case(nul, stripe_header(nul, SECRET)) == 400
    # Within the window either way.
    assert case(valid, stripe_header(valid, SECRET, at=now - 250)) == 200

    stored = sql(env, "SELECT type FROM payments.webhook_events")
    assert sorted(stored) == [("payment_intent.succeeded",), ("payment_intent.succeeded",)]
    # `valid` twice (not processed yet: re-queued, harmless) and `rotated` once.
    assert queue_depth(env, "payments.stripe") == 3
