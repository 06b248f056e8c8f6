"""`docker compose up --scale sms=3`: three replicas share one campaign, each message once."""

from __future__ import annotations

from tests.compose.flows import numbers, processed, start_campaign, wait_campaign_sent
from tests.support import eventually
from tests.support.compose import ComposeStack

REPLICAS = 3


def test_three_sms_replicas_share_a_campaign_and_send_each_message_once(
    compose: ComposeStack,
) -> None:
    compose.up(extra=("--scale", f"sms={REPLICAS}"))
    assert len(compose.container_ids("sms")) == REPLICAS

    def all_consuming() -> bool:
        queues = {q["name"]: q for q in compose.management("/queues/%2F")}
        assert queues["sms.bulk"].get("consumers", 0) >= REPLICAS, queues["sms.bulk"]
        return True

    eventually(all_consuming, timeout=120, interval=1)
    before = [processed(compose.metrics("sms", i), "sms.bulk") for i in range(1, REPLICAS + 1)]
    sent_before = compose.fake_sms_stats()

    with compose.client() as client:
        campaign = start_campaign(client, numbers(5000, start=100_000), "compose-scaled")
        wait_campaign_sent(client, campaign["id"], timeout=300)

    after = [processed(compose.metrics("sms", i), "sms.bulk") for i in range(1, REPLICAS + 1)]
    shares = [a - b for a, b in zip(after, before, strict=True)]
    assert all(share > 0 for share in shares), f"sms.bulk jobs per replica: {shares}"
    sent_after = compose.fake_sms_stats()
    assert sent_after["deliveries"] - sent_before["deliveries"] == 5000
    assert sent_after["duplicates"] == sent_before["duplicates"], "a message went out twice"
