"""Who may do what: key scopes on each endpoint group, expiry, rotation, revocation across
replicas, bad keys slowed per address, and the audit trail of admin actions."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_KEY, OTHER_KEY, USER_KEY, Stack, eventually
from tests.support.stack import free_port

pytestmark = pytest.mark.e2e


def _create_key(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    created = admin.post("/v1/ops/keys", json=body)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    assert set(answer) >= {"id", "key", "scope", "user", "name", "expires_at"}
    return answer


def _status(stack: Stack, key: str | None, method: str, path: str, **kwargs: Any) -> int:
    with stack.client(key) as client:
        return client.request(method, path, **kwargs).status_code


def _notify(user_id: str) -> dict[str, Any]:
    # Critical: written before the answer (201), no worker needed.
    body = {"user_id": user_id, "title": "t", "message": "m", "priority": "critical"}
    return {"json": body}


def test_each_scope_on_each_endpoint_group(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with stack.client(ADMIN_KEY) as admin:
        service = _create_key(admin, scope="service", name="hr-system")["key"]
    with stack.client(OTHER_KEY) as other:
        tournament = other.post("/v1/tournaments", json={"name": "Cup", "capacity": 4}).json()
    emails = f"/v1/tournaments/{tournament['id']}/emails"
    mail = {"json": {"subject": "s", "body": "b"}}
    sms = {"json": {"to": "+24177000001", "message": "hi"}}
    # endpoint group -> (method, path, request) and the status for user, service, admin
    table: list[tuple[str, str, str, dict[str, Any], tuple[int, int, int]]] = [
        ("ops read", "GET", "/v1/ops/failed", {}, (403, 403, 200)),
        ("ops queues", "GET", "/v1/ops/tags", {}, (403, 403, 200)),
        ("keys", "GET", "/v1/ops/keys", {}, (403, 403, 200)),
        ("audit", "GET", "/v1/ops/audit", {}, (403, 403, 200)),
        ("schedule run", "POST", "/v1/ops/schedule/nope/run", {}, (403, 403, 404)),
        ("notify own user", "POST", "/v1/notifications", _notify("user-1"), (201, 201, 201)),
        ("notify another", "POST", "/v1/notifications", _notify("user-9"), (403, 201, 201)),
        ("own notifications", "GET", "/v1/notifications", {}, (200, 200, 200)),
        ("sms", "POST", "/v1/sms", sms, (202, 202, 202)),
        ("tournament e-mail", "POST", emails, mail, (404, 202, 202)),
        ("payments", "GET", f"/v1/payments/{uuid.uuid4()}", {}, (404, 404, 404)),
        ("campaigns", "GET", f"/v1/campaigns/{uuid.uuid4()}", {}, (404, 404, 404)),
        ("images", "GET", f"/v1/images/{uuid.uuid4()}", {}, (404, 404, 404)),
        (
            "tournaments",
            "POST",
            "/v1/tournaments",
            {"json": {"name": "Mine", "capacity": 2}},
            (201, 201, 201),
        ),
        ("another's tournament", "GET", f"/v1/tournaments/{tournament['id']}", {}, (404, 404, 200)),
        ("key management", "POST", "/v1/ops/keys", {"json": {"scope": "admin"}}, (403, 403, 201)),
    ]
    keys = {"user": USER_KEY, "service": service, "admin": ADMIN_KEY}
    wrong = []
    for group, method, path, request, expected in table:
        for (scope, key), want in zip(keys.items(), expected, strict=True):
            got = _status(stack, key, method, path, **request)
            if got != want:
                wrong.append(f"{group} with a {scope} key: {got}, expected {want}")
        assert _status(stack, None, method, path, **request) == 401, group
    assert wrong == []
    with httpx.Client(base_url=stack.url, timeout=15) as browser:
        for key, want in ((USER_KEY, 403), (service, 403), (ADMIN_KEY, 303)):
            login = browser.post("/dashboard/login", data={"key": key}, follow_redirects=False)
            assert login.status_code == want


def test_expiry_rotation_overlap_and_revocation(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with stack.client(ADMIN_KEY) as admin:
        short = _create_key(admin, scope="user", user="u-short", expires_in=2)
        assert short["expires_at"] is not None
        assert _status(stack, short["key"], "GET", "/v1/notifications") == 200
        first = _create_key(admin, scope="user", user="u-rot", name="deploy")
        rotated = admin.post(f"/v1/ops/keys/{first['id']}/rotate", json={"overlap": 2})
        assert rotated.status_code == 201, rotated.text
        second = rotated.json()
        assert second["id"] != first["id"] and second["key"] != first["key"]
        assert (second["user"], second["scope"], second["name"]) == ("u-rot", "user", "deploy")
        # During the overlap both secrets work.
        assert _status(stack, first["key"], "GET", "/v1/notifications") == 200
        assert _status(stack, second["key"], "GET", "/v1/notifications") == 200
        time.sleep(2.2)
        assert _status(stack, short["key"], "GET", "/v1/notifications") == 401  # expired
        assert _status(stack, first["key"], "GET", "/v1/notifications") == 401  # overlap over
        assert _status(stack, second["key"], "GET", "/v1/notifications") == 200
        # Rotating a key whose overlap ended is a conflict; unknown ids are 404.
        assert admin.post(f"/v1/ops/keys/{first['id']}/rotate").status_code == 409
        assert admin.delete("/v1/ops/keys/knope").status_code == 404

        revoked = admin.delete(f"/v1/ops/keys/{second['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        eventually(
            lambda: _status(stack, second["key"], "GET", "/v1/notifications") == 401,
            timeout=1.0,
            interval=0.05,
        )
        listed = admin.get("/v1/ops/keys")
        assert listed.status_code == 200
        rows = {row["id"]: row for row in listed.json()}
        assert set(rows) >= {short["id"], first["id"], second["id"]}
        assert all("key" not in row for row in rows.values())
        for secret in (short["key"], first["key"], second["key"]):
            assert secret not in listed.text
        assert rows[second["id"]]["rotated_from"] == first["id"]
        assert rows[second["id"]]["last_used_at"] is not None

        trail = admin.get("/v1/ops/audit", params={"action": "key."}).json()
        actions = [(r["action"], r["target"]) for r in trail]
        assert ("key.create", short["id"]) in actions
        assert ("key.rotate", first["id"]) in actions
        assert ("key.revoke", second["id"]) in actions
        assert all(r["actor"] == "admin" and r["from"] == "127.0.0.1" for r in trail)
        assert all(set(r) >= {"at", "actor", "action", "target", "from"} for r in trail)


def test_revoked_key_is_refused_by_another_replica_within_a_second(stack: Stack) -> None:
    stack.start("gateway")
    other_port = free_port()
    stack.start("gateway", replica=2, GATEWAY_PORT=other_port)
    stack.wait_ready()
    replica = f"http://127.0.0.1:{other_port}"
    eventually(lambda: httpx.get(f"{replica}/readyz", timeout=2).status_code == 200, timeout=60)
    figures = []
    with stack.client(ADMIN_KEY) as admin:
        for _ in range(3):
            key = _create_key(admin, scope="user", user="u-replica")
            with httpx.Client(
                base_url=replica, headers={"Authorization": f"Bearer {key['key']}"}, timeout=5
            ) as there:
                assert there.get("/v1/notifications").status_code == 200  # cached there now
                assert admin.delete(f"/v1/ops/keys/{key['id']}").status_code == 200
                revoked_at = time.monotonic()
                while there.get("/v1/notifications").status_code == 200:
                    assert time.monotonic() - revoked_at < 1.0, "still accepted after 1 s"
                figures.append(time.monotonic() - revoked_at)
    print(
        f"revoked key refused by the other replica after {', '.join(f'{f:.2f}' for f in figures)} s"
    )
    assert max(figures) < 1.0


def test_repeated_bad_keys_from_one_address_are_slowed_but_good_keys_still_work(
    stack: Stack,
) -> None:
    stack.start("gateway", AUTH_FAILURES_PER_MINUTE=5)
    stack.wait_ready()
    statuses = [_status(stack, f"guess-{i}", "GET", "/v1/notifications") for i in range(8)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    with stack.client("guess-again") as guesser:
        slowed = guesser.get("/v1/notifications")
        assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
    for key in (USER_KEY, ADMIN_KEY):
        assert _status(stack, key, "GET", "/v1/notifications") == 200


def test_every_admin_action_is_in_the_audit_trail(stack: Stack, env: dict[str, Any]) -> None:
    from tests.e2e.test_gateway import _insert_failed_job

    stack.start("gateway")
    stack.wait_ready()
    ids = [asyncio.run(_insert_failed_job(env["DATABASE_URL"])) for _ in range(3)]
    with stack.client(ADMIN_KEY) as admin:
        assert admin.post(f"/v1/ops/failed/{ids[0]}/retry").status_code == 202
        assert admin.delete(f"/v1/ops/failed/{ids[1]}").status_code == 204
        assert admin.delete("/v1/ops/failed").json() == {"flushed": 1}
        assert admin.post("/v1/ops/failed/retry").status_code == 202
        assert admin.post("/v1/ops/schedule/check_full/run").status_code == 202
        assert admin.post("/v1/ops/queues/sms.bulk/pause").status_code == 200
        assert admin.post("/v1/ops/queues/sms.bulk/continue").status_code == 200
        with httpx.Client(base_url=stack.url, timeout=15) as browser:
            browser.post("/dashboard/login", data={"key": "wrong"})
            browser.post("/dashboard/login", data={"key": ADMIN_KEY})
            page = browser.get("/dashboard")
            assert page.status_code == 200 and "Audit trail" in page.text
            assert "queue.pause" in page.text
        trail = admin.get("/v1/ops/audit").json()
    actions = {(r["action"], r["target"]) for r in trail}
    assert actions >= {
        ("failed.retry", str(ids[0])),
        ("failed.forget", str(ids[1])),
        ("failed.flush", "*"),
        ("failed.retry_all", "*"),
        ("schedule.run", "tournaments.check_full"),
        ("queue.pause", "sms.bulk"),
        ("queue.continue", "sms.bulk"),
        ("dashboard.login", "dashboard"),
        ("dashboard.login_failed", "dashboard"),
    }
    assert trail[0]["at"] >= trail[-1]["at"]  # newest first
    failed_login = next(r for r in trail if r["action"] == "dashboard.login_failed")
    assert failed_login["actor"] == "unknown" and "wrong" not in str(failed_login)
