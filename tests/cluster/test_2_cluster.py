"""The `cluster` profile as it comes up: three nodes in one cluster, every quorum queue
(retry tiers included) with three members, tiers dead-lettering at least once."""

from __future__ import annotations

import os
import time

from tests.cluster.flows import FIGURES, steady_rate, timed_campaign
from tests.support import eventually
from tests.support.cluster import NODES, ClusterStack, node_name

CAMPAIGN = 10_000
COOKIE_FILE = "/var/lib/rabbitmq/.erlang.cookie"
WARM_UP = 2_000


def test_three_nodes_form_one_cluster(cluster: ClusterStack) -> None:
    nodes = {n["name"] for n in cluster.management("/nodes?columns=name")}
    assert nodes == {node_name(s) for s in NODES}
    assert cluster.running_nodes() == nodes
    assert cluster.ready()
    # Joined through the cookie the profile gives (not one an image happens to carry).
    cookie = os.environ.get("RABBITMQ_ERLANG_COOKIE", "relay-cluster-development-cookie")
    for service in NODES:
        container = cluster.container(service)
        assert cluster.docker_cmd("exec", container, "cat", COOKIE_FILE) == cookie, service


def test_every_quorum_queue_has_three_members_and_tiers_dead_letter_at_least_once(
    cluster: ClusterStack,
) -> None:
    queues = eventually(cluster.fully_replicated, timeout=60, interval=2)
    assert "sms.bulk" in queues and "payments.stripe.retry.10s" in queues
    tier = cluster.management("/queues/%2F/sms.bulk.retry.10s")
    assert tier["type"] == "quorum" and len(tier["members"]) == 3
    arguments = tier["arguments"]
    assert arguments["x-quorum-initial-group-size"] == 3
    assert arguments["x-dead-letter-strategy"] == "at-least-once"
    assert arguments["x-overflow"] == "reject-publish"


def test_campaign_throughput_on_three_nodes(cluster: ClusterStack) -> None:
    # Untimed first: both figures are taken on warm processes and a warm Postgres.
    timed_campaign(cluster.gateway, WARM_UP, 510_000, "warm-up")
    before, began = cluster.fake_sms_stats(), time.time()
    final, seconds = timed_campaign(cluster.gateway, CAMPAIGN, 520_000, "three-nodes")
    assert final["sent"] == CAMPAIGN and final["failed"] == 0, final
    assert cluster.fake_sms_stats()["deliveries"] - before["deliveries"] == CAMPAIGN
    FIGURES["campaign_10k_seconds_3_nodes"] = round(seconds, 1)
    FIGURES["campaign_msgs_per_s_3_nodes"] = round(CAMPAIGN / seconds)
    # The same without the campaign's start and tail (workers scaling up, the last chunk).
    steady = steady_rate(cluster.fake_sms_timeline(since=began))
    FIGURES["campaign_steady_msgs_per_s_3_nodes"] = round(steady)
