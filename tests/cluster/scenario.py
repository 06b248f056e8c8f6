"""The load both fault tests put on the cluster, and the guarantees both check.

A 10,000-recipient campaign and 2,000 signed Stripe webhooks (paced over ~30 s, resent on
503 as Stripe does); mid-campaign the test breaks a node (`fault`); then: the campaign
completes with exact counts and one provider delivery per recipient, every webhook answered
200 is applied exactly once, the gateway never answered anything but 200 or 503, and 503s
only for a few seconds after the fault. The figures: how long publishers saw 503s and how
long deliveries stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.cluster.flows import (
    WebhookLoad,
    create_payments,
    longest_gap,
    payments_applied_once,
    wait_sent,
)
from tests.compose.flows import numbers, progress, start_campaign
from tests.support import eventually
from tests.support.cluster import ClusterStack

CAMPAIGN = 10_000
WEBHOOKS = 2_000
WEBHOOK_SECONDS = 30.0
# Publishers may see 503s this long after the fault at most (a failover is seconds; the
# bound leaves room for a loaded 2-core machine).
FAILOVER_BOUND = 30.0


@dataclass
class Outcome:
    fault_at: float
    publisher_failover: float  # seconds from the fault to the last 503
    publisher_503s: int
    slowest_answer: float  # the longest a webhook waited for its answer after the fault
    consumer_gap: float  # longest pause in provider deliveries around the fault
    duplicates: int  # provider calls repeated with a known Idempotency-Key


def run_with_fault(
    stack: ClusterStack,
    first_number: int,
    name: str,
    fault: Callable[[], float],
    extra_deliveries: int = 0,
) -> Outcome:
    """Campaign + webhooks, `fault()` at 30 % of the campaign, then every guarantee.

    `fault` returns when it struck; `extra_deliveries` are provider deliveries it causes
    on purpose (a single SMS of its own).
    """
    payments = create_payments(stack.gateway, WEBHOOKS)
    before = stack.fake_sms_stats()
    began = time.time()
    load = WebhookLoad(stack.gateway, payments, rate=WEBHOOKS / WEBHOOK_SECONDS)
    with stack.client() as client:
        campaign = start_campaign(client, numbers(CAMPAIGN, first_number), name)
        load.start()
        eventually(
            lambda: progress(client, campaign["id"])["sent"] >= CAMPAIGN * 0.3,
            timeout=120,
            interval=0.2,
        )
        fault_at = fault()
        final = wait_sent(client, campaign["id"], timeout=300)
    assert final["sent"] == CAMPAIGN and final["failed"] == 0 and final["skipped"] == 0, final
    load.join(timeout=240)

    # Every webhook ends answered 200; nothing but 200 and 503 on the way.
    statuses = load.statuses()
    assert set(statuses) <= {200, 503}, f"answers other than 200/503: {statuses}"
    assert len(load.events) == WEBHOOKS, statuses
    window = load.unavailable_window()
    if window is not None:
        assert window[0] >= fault_at - 1, f"503 before the fault: {window}, fault {fault_at}"
        assert window[1] - fault_at <= FAILOVER_BOUND, f"503s for {window[1] - fault_at:.1f}s"
    payments_applied_once(stack.gateway, load.events, timeout=180)

    after = stack.fake_sms_stats()
    assert after["deliveries"] - before["deliveries"] == CAMPAIGN + extra_deliveries
    timeline = stack.fake_sms_timeline(since=began)
    return Outcome(
        fault_at=fault_at,
        publisher_failover=round(window[1] - fault_at, 1) if window else 0.0,
        publisher_503s=statuses.get(503, 0),
        slowest_answer=round(load.slowest_after(fault_at - 5), 1),
        consumer_gap=round(longest_gap(timeline, after=fault_at), 1),
        duplicates=after["duplicates"] - before["duplicates"],
    )


def wait_whole(stack: ClusterStack, timeout: float = 180) -> None:
    """Three running nodes, every quorum queue with its three members online."""

    def whole() -> bool:
        assert len(stack.running_nodes()) == 3, stack.running_nodes()
        stack.fully_replicated()
        return True

    eventually(whole, timeout=timeout, interval=2)
