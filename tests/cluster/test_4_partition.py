"""A node cut off the network for 30 s (`docker network disconnect`) mid-campaign: it
pauses (pause_minority), its clients move to the two other nodes, nothing is lost or done
twice, and once reconnected it resumes and every queue is whole again."""

from __future__ import annotations

import time
from collections import Counter

from tests.cluster.flows import FIGURES
from tests.cluster.scenario import run_with_fault, wait_whole
from tests.support import eventually
from tests.support.cluster import ClusterStack, node_name

BUSIEST = ("sms.bulk", "payments.stripe", "sms.campaign")
PARTITION_SECONDS = 30.0


def test_partitioned_node_clients_move_to_the_majority_and_nothing_is_lost(
    whole_cluster: ClusterStack,
) -> None:
    stack = whole_cluster
    wait_whole(stack)
    victim = stack.leader_of(*BUSIEST)
    on_victim = Counter(
        (c["peer"], c["name"]) for c in stack.connections() if c["node"] == node_name(victim)
    )
    assert on_victim, f"no client on {victim}: nothing would have to move"
    times: dict[str, float] = {}

    def partition_for_30_s() -> float:
        times["cut"] = stack.partition(victim)
        time.sleep(max(0.0, times["cut"] + PARTITION_SECONDS - time.time()))
        stack.heal(victim)
        times["healed"] = time.time()
        return times["cut"]

    outcome = run_with_fault(stack, 560_000, "cluster-partition", partition_for_30_s)

    # Every client of the cut-off node reconnected to the majority while it was cut off
    # (the management API is read afterwards: while a node is unreachable, its answers
    # wait for the node to be declared down).
    def moved_during_the_partition() -> float:
        moved = [
            c for c in stack.connections()
            if c["node"] != node_name(victim) and times["cut"] < c["since"] < times["healed"]
        ]  # fmt: skip
        missing = on_victim - Counter((c["peer"], c["name"]) for c in moved)
        assert not missing, f"clients of {victim} not moved while it was cut off: {missing}"
        return max(c["since"] for c in moved) - times["cut"]

    moved_after = eventually(moved_during_the_partition, timeout=30, interval=1)
    wait_whole(stack)
    FIGURES.update(
        {
            "partition_victim": f"{victim} ({sum(on_victim.values())} client connections on it)",
            "partition_clients_moved_within_s": round(moved_after, 1),
            "partition_publisher_failover_s": outcome.publisher_failover,
            "partition_publisher_503_answers": outcome.publisher_503s,
            "partition_publisher_slowest_answer_s": outcome.slowest_answer,
            "partition_consumer_gap_s": outcome.consumer_gap,
            "partition_provider_duplicate_calls": outcome.duplicates,
            "partition_whole_again_after_heal_s": round(time.time() - times["healed"], 1),
        }
    )
