"""Idempotency-Key belongs to the user, not to the header's spelling, and is never a way
around authentication: records keyed on (user, method, path, key), checked after the key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.support import (
    ADMIN_KEY,
    OTHER_KEY,
    USER_KEY,
    ServiceUrls,
    Stack,
    eventually,
    fresh_database,
    fresh_vhost,
)

pytestmark = pytest.mark.e2e

PAYMENT = {"amount": 1500, "currency": "USD", "provider": "stripe", "reference": "order-1"}
SMS = {"to": "+24177000001", "message": "hello"}


@pytest.fixture(scope="module")
def gateway(services: ServiceUrls) -> Iterator[tuple[Stack, dict[str, Any]]]:
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        env = {
            "RABBITMQ_URL": vhost,
            "RABBITMQ_MANAGEMENT_URL": services.management,
            "DATABASE_URL": database,
            "REDIS_URL": services.redis,
            "REDIS_KEY_PREFIX": f"test:{uuid.uuid4().hex[:10]}:",
            "API_KEY_CACHE_SECONDS": "0.2",
        }
        stack = Stack(env, name="gateway_idempotency")
        try:
            stack.start("gateway")
            stack.wait_ready()
            yield stack, env
        finally:
            stack.stop()


def _create_key(stack: Stack, **body: Any) -> dict[str, Any]:
    with stack.client(ADMIN_KEY) as admin:
        created = admin.post("/v1/ops/keys", json=body)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def _post(stack: Stack, authorization: str, path: str, body: Any, key: str) -> httpx.Response:
    with httpx.Client(base_url=stack.url, timeout=15) as client:
        return client.post(
            path, json=body, headers={"Authorization": authorization, "Idempotency-Key": key}
        )


def _rows(env: dict[str, Any], query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        return connection.execute(query, args).fetchall()


def test_every_key_and_spelling_of_one_user_shares_its_records_and_other_users_do_not(
    gateway: tuple[Stack, dict[str, Any]],
) -> None:
    stack, env = gateway
    first = _create_key(stack, scope="user", user="u-shared", name="old")["key"]
    second = _create_key(stack, scope="user", user="u-shared", name="new")["key"]
    # Spellings RFC 9110 allows: the scheme in any case, one or more spaces before the key.
    spellings = [
        f"Bearer {first}",
        f"Bearer {second}",
        f"bearer {first}",
        f"BEARER {second}",
        f"Bearer  {second}",
    ]
    for path, body, key, status in (
        ("/v1/payments", PAYMENT, "pay-1", 201),
        ("/v1/sms", SMS, "sms-1", 202),
    ):
        answers = [_post(stack, spelling, path, body, key) for spelling in spellings]
        assert [a.status_code for a in answers] == [status] * len(spellings), [
            a.text for a in answers
        ]
        assert len({a.json()["id"] for a in answers}) == 1, [a.json()["id"] for a in answers]
        assert [a.headers.get("idempotent-replayed") for a in answers[1:]] == ["true"] * 4
        # A spelling HTTP does not allow is not a key at all: 401, never a second record.
        for refused in (f"Bearer\t{first}", f"Bearer:{first}", first):
            assert _post(stack, refused, path, body, key).status_code == 401, refused
        # Another user with the same Idempotency-Key gets an answer of its own.
        theirs = _post(stack, f"Bearer {OTHER_KEY}", path, body, key)
        assert theirs.status_code == status and theirs.json()["id"] != answers[0].json()["id"]
        assert "idempotent-replayed" not in theirs.headers
    assert _rows(env, "SELECT count(*) FROM payments.payments WHERE user_id = 'u-shared'") == [(1,)]
    assert _rows(env, "SELECT count(*) FROM sms.messages WHERE user_id = 'u-shared'") == [(1,)]
    # The same holds for the environment's keys.
    env_answers = [
        _post(stack, spelling, "/v1/payments", PAYMENT, "pay-env")
        for spelling in (f"Bearer {USER_KEY}", f"bearer {USER_KEY}", f"Bearer   {USER_KEY}")
    ]
    assert len({a.json()["id"] for a in env_answers}) == 1


def test_a_revoked_or_expired_key_gets_401_even_with_a_stored_idempotency_key(
    gateway: tuple[Stack, dict[str, Any]],
) -> None:
    stack, _ = gateway
    revoked = _create_key(stack, scope="user", user="u-revoked")
    expiring = _create_key(stack, scope="user", user="u-expiring", expires_in=2)
    for key in (revoked, expiring):
        stored = _post(stack, f"Bearer {key['key']}", "/v1/payments", PAYMENT, "pay-gone")
        assert stored.status_code == 201, stored.text
    with stack.client(ADMIN_KEY) as admin:
        assert admin.delete(f"/v1/ops/keys/{revoked['id']}").status_code == 200
    for key in (revoked, expiring):
        with stack.client(key["key"]) as client:
            eventually(lambda c=client: c.get("/v1/notifications").status_code == 401, timeout=5)
        replay = _post(stack, f"Bearer {key['key']}", "/v1/payments", PAYMENT, "pay-gone")
        assert replay.status_code == 401, replay.text
        assert "idempotent-replayed" not in replay.headers


def test_a_key_of_a_narrower_scope_is_refused_what_a_wider_key_of_its_user_stored(
    gateway: tuple[Stack, dict[str, Any]],
) -> None:
    stack, _ = gateway
    admin_key = _create_key(stack, scope="admin", user="ops-x", name="lead")["key"]
    user_key = _create_key(stack, scope="user", user="ops-x", name="phone")["key"]
    new_key = {"scope": "user", "user": "someone"}
    made = _post(stack, f"Bearer {admin_key}", "/v1/ops/keys", new_key, "keys-1")
    assert made.status_code == 201, made.text
    # The answer holds a key's secret: a user key of the same user must not get it back.
    refused = _post(stack, f"Bearer {user_key}", "/v1/ops/keys", new_key, "keys-1")
    assert refused.status_code == 403 and made.json()["key"] not in refused.text
    # A wider key of the user replays what a narrower one stored.
    paid = _post(stack, f"Bearer {user_key}", "/v1/payments", PAYMENT, "pay-x")
    again = _post(stack, f"Bearer {admin_key}", "/v1/payments", PAYMENT, "pay-x")
    assert paid.status_code == again.status_code == 201
    assert again.json()["id"] == paid.json()["id"] and again.headers["idempotent-replayed"]


def test_the_same_key_with_another_body_or_path_keeps_its_answers(
    gateway: tuple[Stack, dict[str, Any]],
) -> None:
    stack, _ = gateway
    first = _post(stack, f"Bearer {USER_KEY}", "/v1/payments", PAYMENT, "same-key")
    other_body = _post(
        stack, f"Bearer {USER_KEY}", "/v1/payments", {**PAYMENT, "amount": 99}, "same-key"
    )
    assert first.status_code == 201
    assert other_body.status_code == 422 and "different request" in other_body.json()["detail"]
    # Another path is another record: the key names a request to one endpoint.
    sms = _post(stack, f"Bearer {USER_KEY}", "/v1/sms", SMS, "same-key")
    assert sms.status_code == 202 and "idempotent-replayed" not in sms.headers
