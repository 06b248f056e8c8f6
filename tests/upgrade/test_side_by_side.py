"""The previous release and this one, side by side on one broker and one database, as
during a rolling deploy: the old processes start first, this release's first process
migrates the database (expand), and jobs pass both ways with exact counts.

- new gateway -> old worker: while only the old sms worker consumes;
- old gateway -> new worker: once the new sms worker took over and the old one drained.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import FAST_RETRIES
from tests.support import Stack, eventually

pytestmark = pytest.mark.e2e

TO = "+24177750737"
N = 25


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def send(client: httpx.Client, count: int, label: str) -> list[str]:
    ids = []
    for n in range(count):
        answer = client.post("/v1/sms", json={"to": TO, "message": f"{label} {n}"})
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    return ids


def all_sent(client: httpx.Client, ids: list[str]) -> bool:
    return all(client.get(f"/v1/sms/{sms_id}").json()["status"] == "sent" for sms_id in ids)


def test_jobs_pass_both_ways_between_the_previous_release_and_this_one(
    stack: Stack, old: Stack, fake: FakeProvider
) -> None:
    settings: dict[str, Any] = {
        **FAST_RETRIES,
        "SMS_DEFAULT_REGION": "GA",
        "SMS_PROVIDER": "http",
        "SMS_HTTP_URL": fake.url,
    }
    old.start("gateway", **settings)
    old.start("sms", **settings)
    old.wait_ready()
    old.wait_consuming("sms.send")

    # This release's first process migrates the database under the running old ones.
    stack.start("gateway", **settings)
    stack.wait_ready()

    with stack.client() as new_gateway, old.client() as old_gateway:
        to_old_worker = send(new_gateway, N, "new gateway")
        eventually(lambda: all_sent(new_gateway, to_old_worker), timeout=60, interval=0.5)

        stack.start("sms", **settings)
        stack.wait_consuming("sms.send", consumers=2)
        assert old.terminate("sms") == 0, old.tail("sms")
        stack.wait_consuming("sms.send", consumers=1)
        to_new_worker = send(old_gateway, N, "old gateway")
        eventually(lambda: all_sent(old_gateway, to_new_worker), timeout=60, interval=0.5)

        # Each gateway reads what the other created.
        assert old_gateway.get(f"/v1/sms/{to_old_worker[0]}").json()["status"] == "sent"
        assert new_gateway.get(f"/v1/sms/{to_new_worker[0]}").json()["status"] == "sent"

    deliveries = fake.deliveries
    assert set(deliveries) == set(to_old_worker) | set(to_new_worker)
    assert len(deliveries) == 2 * N and fake.state.duplicates == 0
    for label in ("gateway", "sms"):
        assert "Traceback" not in stack.tail(label, 400), stack.tail(label)
