"""`relay keys` and `relay audit`: the same key lifecycle as the ops API, from a terminal."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support import Stack, eventually
from tests.support.stack import ROOT

pytestmark = pytest.mark.e2e


def relay(env: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/relay"), *args],
        env={**env, "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def _status(stack: Stack, key: str) -> int:
    with stack.client(key) as client:
        return client.get("/v1/notifications").status_code


def test_keys_create_list_rotate_revoke_and_the_audit_trail(
    stack: Stack, env: dict[str, Any]
) -> None:
    created = relay(env, "keys", "create", "--scope", "service", "--name", "hr", "--expires", "30d")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("rk_") and "service key" in created.stderr
    refused = relay(env, "keys", "create", "--scope", "user")
    assert refused.returncode == 2 and "--user" in refused.stdout
    assert relay(env, "keys", "create", "--user", "u1", "--expires", "soon").returncode == 2

    listed = relay(env, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["scope"], row["user"], row["name"]) == ("service", "service:hr", "hr")
    assert row["expires_at"] is not None and key not in listed.stdout
    table = relay(env, "keys", "list")
    assert row["id"] in table.stdout and "active" in table.stdout and key not in table.stdout

    stack.start("gateway")
    stack.wait_ready()
    assert _status(stack, key) == 200
    rotated = relay(env, "keys", "rotate", row["id"], "--overlap", "0")
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.strip()
    assert new_key.startswith("rk_") and new_key != key
    eventually(lambda: _status(stack, key) == 401, timeout=2, interval=0.1)
    assert _status(stack, new_key) == 200

    new_id = new_key.split("_")[1]
    assert relay(env, "keys", "revoke", new_id).returncode == 0
    eventually(lambda: _status(stack, new_key) == 401, timeout=2, interval=0.1)
    missing = relay(env, "keys", "revoke", "knope")
    assert missing.returncode == 1 and "no key" in missing.stdout

    paused = relay(env, "queue", "pause", "sms.bulk")
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert relay(env, "queue", "continue", "sms.bulk").returncode == 0
    queue_actions = relay(env, "audit", "--json", "--action", "queue.")
    assert [r["action"] for r in json.loads(queue_actions.stdout)] == [
        "queue.continue",
        "queue.pause",
    ]

    audit = relay(env, "audit", "--json", "--action", "key.")
    assert audit.returncode == 0, audit.stderr
    records = json.loads(audit.stdout)
    assert [r["action"] for r in records][:3] == ["key.revoke", "key.rotate", "key.create"]
    assert all(r["actor"].startswith("cli:") and r["from"].startswith("cli@") for r in records)
    assert "key.rotate" in relay(env, "audit", "--action", "key.").stdout
