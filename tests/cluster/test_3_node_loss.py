"""`docker kill` of the node that leads the busiest queues, mid-campaign and mid-webhooks,
with a job waiting in a retry tier at that moment: nothing is lost or done twice, the
gateway answers 503 (never 500) for the seconds of the failover, and the node rejoins."""

from __future__ import annotations

import time

from tests.cluster.flows import FIGURES
from tests.cluster.scenario import run_with_fault, wait_whole
from tests.support import eventually
from tests.support.cluster import ClusterStack, service_of

BUSIEST = ("sms.bulk", "payments.stripe", "sms.campaign")
TIER = "sms.send.retry.10s"  # where a single SMS waits after its first failed attempt
TIER_NUMBER = "+24177999501"


def test_killed_leader_loses_no_job_and_rejoins_with_every_queue_whole(
    whole_cluster: ClusterStack,
) -> None:
    stack = whole_cluster
    wait_whole(stack)
    victim = stack.leader_of(*BUSIEST)
    tier_leader = service_of(stack.queues()[TIER]["leader"])
    tier_sms: dict[str, str] = {}

    def kill_with_a_job_in_a_tier() -> float:
        # A single SMS whose first attempt fails (the provider answers 503 once): it
        # waits 10 s in its retry tier, and the node dies during that wait.
        stack.fake_sms_fail(TIER_NUMBER, 503)
        with stack.client() as client:
            answer = client.post("/v1/sms", json={"to": TIER_NUMBER, "message": "tier"})
        assert answer.status_code == 202, answer.text
        tier_sms["id"] = answer.json()["id"]
        eventually(lambda: stack.fake_sms_stats()["scripted_pending"] == 0, timeout=10,
                   interval=0.1)  # fmt: skip
        failed_at = time.time()
        time.sleep(0.5)  # the failed attempt's copy is published to the tier
        killed_at = stack.kill(victim)
        assert killed_at - failed_at < 10, "the job had left its tier before the kill"
        return killed_at

    outcome = run_with_fault(
        stack, 540_000, "cluster-kill", kill_with_a_job_in_a_tier, extra_deliveries=1
    )

    with stack.client() as client:
        sms = client.get(f"/v1/sms/{tier_sms['id']}").json()
    assert sms["status"] == "sent" and sms["attempts"] == 2, sms

    # The killed node restarts and rejoins; every queue gets its third member back.
    restarted = time.time()
    stack.start(victim)
    wait_whole(stack)
    FIGURES.update(
        {
            "kill_victim": f"{victim} (led {', '.join(BUSIEST)}; {TIER} led by {tier_leader})",
            "kill_publisher_failover_s": outcome.publisher_failover,
            "kill_publisher_503_answers": outcome.publisher_503s,
            "kill_publisher_slowest_answer_s": outcome.slowest_answer,
            "kill_consumer_gap_s": outcome.consumer_gap,
            "kill_provider_duplicate_calls": outcome.duplicates,
            "kill_rejoin_s": round(time.time() - restarted, 1),
        }
    )
