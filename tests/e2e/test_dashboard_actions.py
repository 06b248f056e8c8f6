"""The dashboard's forms are the ops API's actions: each one, posted with the session's
CSRF token, does the work and lands in the audit trail under the same name, by the
logged-in admin, from the browser's address."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.e2e.test_gateway import _insert_failed_job
from tests.support import ADMIN_KEY, Stack

pytestmark = pytest.mark.e2e


def test_every_dashboard_form_does_its_action_and_records_it(
    stack: Stack, env: dict[str, Any]
) -> None:
    stack.start("gateway")
    stack.wait_ready()
    retried, forgotten, swept = (
        asyncio.run(_insert_failed_job(env["DATABASE_URL"])) for _ in range(3)
    )
    with httpx.Client(base_url=stack.url, timeout=15) as browser, stack.client(ADMIN_KEY) as admin:
        anonymous = browser.post("/dashboard/queues/sms.bulk/pause", data={"csrf": "guess"})
        assert anonymous.status_code == 401
        login = browser.post("/dashboard/login", data={"key": ADMIN_KEY}, follow_redirects=False)
        assert login.status_code == 303, login.text
        token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/dashboard").text)
        assert token is not None

        def post(path: str, **form: str) -> int:
            answer = browser.post(path, data={"csrf": token.group(1), **form})
            return answer.status_code

        def paused() -> bool:
            queues = admin.get("/v1/ops/queues").json()["queues"]
            return bool(next(q for q in queues if q["name"] == "sms.bulk")["paused"])

        assert post("/dashboard/queues/sms.bulk/pause") == 303 and paused()
        assert post("/dashboard/queues/sms.bulk/continue") == 303 and not paused()
        assert post("/dashboard/queues/sms.bulk.parked/pause") == 422
        assert post("/dashboard/queues/sms.bulk/clear", tiers="true") == 303
        assert post("/dashboard/tags", tag="user:42") == 303
        assert "user:42" in {tag["tag"] for tag in admin.get("/v1/ops/tags").json()}
        assert post("/dashboard/tags/stop", tag="user:42") == 303
        assert admin.get("/v1/ops/tags").json() == []
        assert post(f"/dashboard/failed/{retried}/retry") == 303
        assert post(f"/dashboard/failed/{forgotten}/forget") == 303
        assert post(f"/dashboard/failed/{forgotten}/forget") == 404
        assert post("/dashboard/failed/retry", queue="") == 303
        assert admin.get("/v1/ops/failed").json() == []
        assert post("/dashboard/workers/terminate") == 303
        trail = admin.get("/v1/ops/audit", params={"limit": 50}).json()

    login_record = next(r for r in trail if r["action"] == "dashboard.login")
    assert {(r["action"], r["target"]) for r in trail} == {
        ("dashboard.login", "dashboard"),
        ("queue.pause", "sms.bulk"),
        ("queue.continue", "sms.bulk"),
        ("queue.clear", "sms.bulk"),
        ("tag.monitor", "user:42"),
        ("tag.stop_monitoring", "user:42"),
        ("failed.retry", str(retried)),
        ("failed.forget", str(forgotten)),
        ("failed.retry_all", "*"),
        ("workers.terminate", "workers"),
    }
    assert {(r["actor"], r["from"]) for r in trail} == {
        (login_record["actor"], login_record["from"])
    }
    [swept_up] = [r for r in trail if r["action"] == "failed.retry_all"]
    assert swept_up["details"]["retried"] == 1 and str(swept) not in str(trail)
