"""Starting the sms stack (gateway + sms workers) against the fake provider, and polling it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes.sms_provider import FakeProvider
from tests.support import Stack, eventually

FAST_RETRIES = {"JOB_RETRY_DELAYS": "0.2,0.5", "JOB_MAX_ATTEMPTS": "3"}


def start_sms(
    stack: Stack, fake: FakeProvider | None = None, *, workers: int = 1, **env: Any
) -> dict[str, Any]:
    """Gateway and `workers` sms workers sharing `env`; returns that env (for restarts)."""
    settings: dict[str, Any] = {**FAST_RETRIES, "SMS_DEFAULT_REGION": "GA", **env}
    if fake is not None:
        settings.setdefault("SMS_PROVIDER", "http")
        settings.setdefault("SMS_HTTP_URL", fake.url)
    stack.start("gateway", **settings)
    for replica in range(1, workers + 1):
        stack.start("sms", replica=replica, **settings)
    stack.wait_ready()
    if workers:
        for queue in ("sms.send", "sms.bulk", "sms.campaign"):
            stack.wait_consuming(queue, consumers=workers)
    return settings


def sms_status(client: httpx.Client, sms_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/sms/{sms_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def wait_for_status(
    client: httpx.Client, sms_id: str, status: str, timeout: float = 30
) -> dict[str, Any]:
    def reached() -> dict[str, Any]:
        body = sms_status(client, sms_id)
        assert body["status"] == status, body
        return body

    return eventually(reached, timeout=timeout, interval=0.1)


def campaign_progress(client: httpx.Client, campaign_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/campaigns/{campaign_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    # The contract's invariant, checked at every look.
    assert body["total"] == body["sent"] + body["failed"] + body["skipped"] + body["pending"], body
    return body


def numbers(count: int, start: int = 0) -> list[str]:
    """`count` distinct valid Gabonese mobile numbers in E.164 (+241 77 xx xx xx)."""
    return [f"+24177{n:06d}" for n in range(start, start + count)]
