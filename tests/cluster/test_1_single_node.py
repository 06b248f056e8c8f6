"""The yardstick: the same campaign on the single-node stack, before the cluster exists."""

from __future__ import annotations

import time

from tests.cluster.flows import FIGURES, steady_rate, timed_campaign
from tests.support.cluster import ClusterStack

CAMPAIGN = 10_000
WARM_UP = 2_000


def test_campaign_throughput_on_one_node(single_node: ClusterStack) -> None:
    # Untimed first: both figures are taken on warm processes and a warm Postgres.
    timed_campaign(single_node.gateway, WARM_UP, 490_000, "warm-up")
    before, began = single_node.fake_sms_stats(), time.time()
    final, seconds = timed_campaign(single_node.gateway, CAMPAIGN, 500_000, "one-node")
    assert final["sent"] == CAMPAIGN and final["failed"] == 0, final
    assert single_node.fake_sms_stats()["deliveries"] - before["deliveries"] == CAMPAIGN
    FIGURES["campaign_10k_seconds_1_node"] = round(seconds, 1)
    FIGURES["campaign_msgs_per_s_1_node"] = round(CAMPAIGN / seconds)
    # The same without the campaign's start and tail (workers scaling up, the last chunk).
    steady = steady_rate(single_node.fake_sms_timeline(since=began))
    FIGURES["campaign_steady_msgs_per_s_1_node"] = round(steady)
