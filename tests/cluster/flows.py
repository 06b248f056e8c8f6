"""What the cluster tests drive through the gateway while a node dies: a paced stream of
signed Stripe webhooks (resent on 503, as Stripe does), payments made in bulk, a campaign
timed end to end, and the figures the tests measure."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.compose.flows import create_payment, numbers, progress_or_none, start_campaign
from tests.fakes.payments_signing import stripe_event, stripe_header
from tests.support import eventually
from tests.support.compose import DEV_KEY, STRIPE_SECRET

# What the tests measured; printed at the end of the run (conftest) and kept under
# tests/artifacts/cluster-figures.json.
FIGURES: dict[str, Any] = {}

THREADS = 8


def _client(gateway: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway, headers={"Authorization": f"Bearer {DEV_KEY}"}, timeout=30
    )


_per_thread = threading.local()


def _thread_client(gateway: str) -> httpx.Client:
    """One keep-alive client per thread and gateway (making one costs more CPU than a
    request: its SSL context)."""
    clients: dict[str, httpx.Client] = _per_thread.__dict__.setdefault("clients", {})
    if gateway not in clients:
        clients[gateway] = _client(gateway)
    return clients[gateway]


def create_payments(gateway: str, count: int) -> list[str]:
    """`count` pending Stripe payments, created concurrently; their ids."""

    def create(_: int) -> str:
        return str(create_payment(_thread_client(gateway))["id"])

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(create, range(count)))


@dataclass
class WebhookLoad:
    """One signed `payment_intent.succeeded` per payment, `rate` a second, on threads.

    A 503 (or a refused connection) is resent after half a second until it is answered
    200, as Stripe resends; every answer is kept with its time for the 503 window.
    """

    gateway: str
    payments: list[str]
    rate: float
    answers: list[tuple[float, int, float]] = field(default_factory=list)  # at, status, took
    events: dict[str, str] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0

    def start(self) -> None:
        self.began = time.time()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(THREADS)]
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "webhooks still being sent"

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= len(self.payments):
                return None
            self._next += 1
            return self._next - 1

    def _run(self) -> None:
        with _client(self.gateway) as client:
            while (index := self._take()) is not None:
                due = self.began + index / self.rate
                time.sleep(max(0.0, due - time.time()))
                self._send(client, self.payments[index])

    def _send(self, client: httpx.Client, payment_id: str) -> None:
        event_id = f"evt_{uuid.uuid4().hex}"
        payload = stripe_event(
            "payment_intent.succeeded", payment_id, amount=1500, currency="usd", event_id=event_id
        )
        while True:
            sent_at = time.time()
            try:
                answer = client.post(
                    "/v1/webhooks/stripe",
                    content=payload,
                    headers={"Content-Type": "application/json",
                             "Stripe-Signature": stripe_header(payload, STRIPE_SECRET)},
                )  # fmt: skip
                status = answer.status_code
            except httpx.HTTPError:
                status = 0  # no answer at all: counted apart, resent
            with self._lock:
                self.answers.append((sent_at, status, time.time() - sent_at))
            if status == 200:
                self.events[payment_id] = event_id
                return
            if status not in (0, 503):
                return  # anything else fails the test (see statuses())
            time.sleep(0.5)

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for _, status, _ in self.answers:
            counts[status] = counts.get(status, 0) + 1
        return counts

    def unavailable_window(self) -> tuple[float, float] | None:
        """(first, last) time a webhook was answered 503 or not at all; None if never."""
        bad = [at + took for at, status, took in self.answers if status in (0, 503)]
        return (min(bad), max(bad)) if bad else None

    def slowest_after(self, moment: float) -> float:
        """The longest a webhook sent after `moment` waited for its answer (a publish
        waits for its confirm, up to PUBLISH_TIMEOUT, while a queue elects a new leader)."""
        return max((took for at, _, took in self.answers if at >= moment), default=0.0)


def payments_applied_once(gateway: str, events: dict[str, str], timeout: float) -> None:
    """Every payment succeeded, with exactly the one event that was answered 200."""
    waiting = dict(events)

    def check(payment_id: str) -> str | None:
        body = _thread_client(gateway).get(f"/v1/payments/{payment_id}").json()
        if body.get("status") != "succeeded":
            return payment_id
        applied = [e["event_id"] for e in body["events"]]
        assert applied == [waiting[payment_id]], body
        return None

    def settled() -> bool:
        with ThreadPoolExecutor(THREADS) as pool:
            left = [p for p in pool.map(check, list(waiting)) if p is not None]
        for payment_id in set(waiting) - set(left):
            del waiting[payment_id]
        assert not waiting, f"{len(waiting)} payments not applied yet, e.g. {left[:3]}"
        return True

    eventually(settled, timeout=timeout, interval=2)


def timed_campaign(gateway: str, count: int, start: int, name: str) -> tuple[dict[str, Any], float]:
    """A campaign of `count` recipients, from its 202 until every message is sent:
    (final progress, seconds)."""
    with _client(gateway) as client:
        began = time.monotonic()
        campaign = start_campaign(client, numbers(count, start), name)
        final = wait_sent(client, campaign["id"], timeout=300)
        return final, time.monotonic() - began


def wait_sent(client: httpx.Client, campaign_id: str, timeout: float) -> dict[str, Any]:
    def done() -> dict[str, Any]:
        body = progress_or_none(client, campaign_id)
        assert body is not None, "gateway not answering"
        assert body["pending"] == 0, body
        return body

    final: dict[str, Any] = eventually(done, timeout=timeout, interval=0.25)
    return final


def steady_rate(times: list[float]) -> float:
    """Deliveries a second between the 10th and the 90th percentile of `times` (sorted):
    the sending rate once a campaign runs, without its start and its tail."""
    low, high = times[len(times) // 10], times[len(times) * 9 // 10]
    return (len(times) * 0.8) / max(high - low, 1e-6)


def longest_gap(times: list[float], after: float) -> float:
    """The longest wait between two consecutive deliveries ending after `after`."""
    gaps = [b - a for a, b in itertools.pairwise(times) if b >= after]
    return max(gaps, default=0.0)
