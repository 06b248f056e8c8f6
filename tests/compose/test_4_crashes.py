"""A crashed sms replica and a crashed payments worker mid-work: nothing lost, nothing
done twice, and each back by its restart policy (`restart: unless-stopped`)."""

from __future__ import annotations

from typing import Any

from tests.compose.flows import (
    create_payment,
    numbers,
    payment,
    post_succeeded,
    progress,
    start_campaign,
    wait_campaign_sent,
)
from tests.support import eventually
from tests.support.compose import ComposeStack

PAYMENTS = 150


def test_crashed_sms_replica_and_payments_lose_nothing_and_come_back(
    compose: ComposeStack,
) -> None:
    sms_victim = compose.container_ids("sms")[-1]
    payments_victim = compose.container_ids("payments")[0]
    restarts_before = {
        c: int(compose.inspect(c, "{{.RestartCount}}")) for c in (sms_victim, payments_victim)
    }
    sent_before = compose.fake_sms_stats()

    with compose.client() as client:
        campaign = start_campaign(client, numbers(5000, start=200_000), "compose-crash")
        payments = [create_payment(client) for _ in range(PAYMENTS)]
        events = {p["id"]: post_succeeded(client, p["id"]) for p in payments}

        # Mid-work: part of the campaign is out, the rest still to go.
        eventually(lambda: 0 < progress(client, campaign["id"])["sent"] < 4000, timeout=120,
                   interval=0.2)  # fmt: skip
        compose.crash(sms_victim)
        compose.crash(payments_victim)

        final = wait_campaign_sent(client, campaign["id"], timeout=300)
        assert final["sent"] == 5000

        def all_succeeded() -> list[dict[str, Any]]:
            shown = [payment(client, p["id"]) for p in payments]
            assert all(p["status"] == "succeeded" for p in shown), [
                p["id"] for p in shown if p["status"] != "succeeded"
            ][:5]
            return shown

        shown = eventually(all_succeeded, timeout=180, interval=1)
        for body in shown:
            assert [e["event_id"] for e in body["events"]] == [events[body["id"]]], body

    sent_after = compose.fake_sms_stats()
    # One delivery per recipient. A request cut off by the crash may be re-sent with its
    # Idempotency-Key, which the provider answers without delivering again.
    assert sent_after["deliveries"] - sent_before["deliveries"] == 5000

    def back(container: str) -> bool:
        restarts = int(compose.inspect(container, "{{.RestartCount}}"))
        assert restarts > restarts_before[container], f"{container} not restarted"
        health = compose.inspect(container, "{{.State.Health.Status}}")
        assert health == "healthy", f"{container}: {health}"
        return True

    eventually(lambda: back(sms_victim) and back(payments_victim), timeout=180, interval=2)
