"""Campaign control (pause, resume, cancel) with exact counts, and paging through a
campaign's messages while it sends."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import campaign_progress, numbers, start_sms
from tests.support import ADMIN_KEY, OTHER_KEY, Stack, eventually

pytestmark = pytest.mark.e2e

# Chunks of 100 every 0.3 s, each provider call 20 ms: a campaign of 2,000 takes ~6 s,
# long enough to pause, resume and cancel it mid-way.
SLOW_RELEASE = {
    "SMS_CAMPAIGNS_PER_HOUR": 0,
    "SMS_BULK_PER_HOUR": 0,
    "SMS_BULK_CHUNK": 100,
    "SMS_BULK_CHUNK_DELAY": 0.3,
    "SMS_BULK_BATCH": 25,
}


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        provider.state.latency = 0.02
        yield provider


def _create(client: httpx.Client, count: int) -> str:
    text = "phone,name\n" + "".join(f"{p},C{i}\n" for i, p in enumerate(numbers(count)))
    answer = client.post(
        "/v1/campaigns",
        params={"name": "control", "message": "Bonjour #name"},
        content=text.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 202, answer.text
    campaign_id: str = answer.json()["id"]
    return campaign_id


def _steady(client: httpx.Client, campaign_id: str, quiet: float = 1.5) -> dict[str, Any]:
    """The campaign's counts once they stopped moving for `quiet` seconds."""
    last = campaign_progress(client, campaign_id)
    since = time.monotonic()
    deadline = since + 30
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, f"counts never settled: {last}"
        time.sleep(0.1)
        now = campaign_progress(client, campaign_id)
        if now != last:
            last, since = now, time.monotonic()
    return last


def _all_messages(client: httpx.Client, campaign_id: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/campaigns/{campaign_id}/messages", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_pause_resume_cancel_keep_counts_exact_under_two_workers(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake, workers=2, **SLOW_RELEASE)
    total = 2000
    with stack.client() as client, stack.client(OTHER_KEY) as other:
        campaign_id = _create(client, total)
        eventually(lambda: campaign_progress(client, campaign_id)["sent"] >= 200, timeout=30)

        paused = client.post(f"/v1/campaigns/{campaign_id}/pause")
        assert paused.status_code == 200 and paused.json()["status"] == "paused"
        assert client.post(f"/v1/campaigns/{campaign_id}/pause").status_code == 200  # no-op
        held = _steady(client, campaign_id)
        assert held["status"] == "paused" and held["pending"] > 0, held
        # Jobs in flight finished; nothing more goes while paused, and none was dropped.
        time.sleep(2)
        assert campaign_progress(client, campaign_id) == held
        assert len(fake.deliveries) == held["sent"]

        resumed = client.post(f"/v1/campaigns/{campaign_id}/resume")
        assert resumed.status_code == 200 and resumed.json()["status"] in ("sending", "queued")
        eventually(
            lambda: campaign_progress(client, campaign_id)["sent"] >= held["sent"] + 200,
            timeout=30,
        )

        assert other.post(f"/v1/campaigns/{campaign_id}/cancel").status_code == 404
        cancelled = client.post(f"/v1/campaigns/{campaign_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        final = eventually(
            lambda: (p := campaign_progress(client, campaign_id))["pending"] == 0 and p,
            timeout=30,
        )
        time.sleep(1)  # anything still in flight would move the counts now
        assert campaign_progress(client, campaign_id) == final
        assert client.post(f"/v1/campaigns/{campaign_id}/resume").status_code == 409

        skipped = _all_messages(client, campaign_id, status="skipped", limit=500)
        sent = _all_messages(client, campaign_id, status="sent", limit=500)
    assert final["status"] == "cancelled" and final["failed"] == 0
    assert final["sent"] + final["skipped"] == total and final["skipped"] > 0
    # Exact: the counts agree with the rows and with what the provider received, once each.
    assert len(skipped) == final["skipped"] and len(sent) == final["sent"]
    assert {m["error"] for m in skipped} == {"cancelled"}
    assert len(fake.deliveries) == final["sent"]
    assert max(fake.deliveries_per_number().values()) == 1
    assert {d.to for d in fake.deliveries.values()} == {m["to"] for m in sent}


def test_paging_while_sending_neither_skips_nor_repeats_a_message(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake, workers=2, **SLOW_RELEASE)
    total = 1500
    with stack.client() as client:
        campaign_id = _create(client, total)
        eventually(lambda: campaign_progress(client, campaign_id)["sent"] >= 100, timeout=30)
        at_start = campaign_progress(client, campaign_id)
        pages = 0
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query: dict[str, Any] = {"limit": 37, **({"cursor": cursor} if cursor else {})}
            body = client.get(f"/v1/campaigns/{campaign_id}/messages", params=query).json()
            seen += body["items"]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
            time.sleep(0.05)  # let the workers move statuses between pages
        at_end = campaign_progress(client, campaign_id)
        bad_cursor = client.get(f"/v1/campaigns/{campaign_id}/messages", params={"cursor": "x"})
        bad_status = client.get(f"/v1/campaigns/{campaign_id}/messages", params={"status": "z"})
    assert at_start["pending"] > 0 and at_end["sent"] > at_start["sent"], (at_start, at_end)
    assert pages == -(-total // 37)
    assert [m["seq"] for m in seen] == list(range(total))
    assert len({m["id"] for m in seen}) == total
    assert {m["to"] for m in seen} == set(numbers(total))
    assert bad_cursor.status_code == 422 and bad_status.status_code == 422


def test_dashboard_campaign_list_shows_the_state_and_pauses_resumes_cancels(stack: Stack) -> None:
    start_sms(stack, None, workers=0, SMS_CAMPAIGNS_PER_HOUR=0)
    with stack.client() as client:
        campaign_id = _create(client, 150)
        with httpx.Client(base_url=stack.url, timeout=15) as browser:
            login = browser.post("/dashboard/login", data={"key": ADMIN_KEY})
            assert login.status_code in (200, 303), login.text
            page = browser.get("/dashboard")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            sections = browser.get("/dashboard/sections").json()
            assert f"/dashboard/panels/campaigns/{campaign_id}/pause" in sections["campaigns"]

            def press(verb: str) -> str:
                answer = browser.post(
                    f"/dashboard/panels/campaigns/{campaign_id}/{verb}",
                    data={"csrf": csrf.group(1)},
                    follow_redirects=False,
                )
                assert answer.status_code == 303, answer.text
                status: str = campaign_progress(client, campaign_id)["status"]
                return status

            assert press("pause") == "paused"
            assert "paused" in browser.get("/dashboard/sections").json()["campaigns"]
            assert press("resume") == "queued"
            assert press("cancel") == "cancelled"
            refused = browser.post(
                f"/dashboard/panels/campaigns/{campaign_id}/explode", data={"csrf": csrf.group(1)}
            )
            assert refused.status_code == 422
        final = campaign_progress(client, campaign_id)
    assert (final["skipped"], final["pending"]) == (150, 0)
