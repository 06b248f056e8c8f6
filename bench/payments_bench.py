"""Payments figures: webhook ingestion latency and rate, and worker processing throughput.

Run from the repository root (RabbitMQ, Postgres and Redis on localhost, as for the tests):

    .venv/bin/python -m bench.payments_bench [--rate 200] [--seconds 10] [--burst 2000]

1. paced: POST /v1/webhooks/stripe at --rate requests/s for --seconds (worker stopped, so
   the gateway's work is measured alone): achieved rate, p50 / p99 / max latency;
2. burst: --burst requests as fast as 16 concurrent clients go: requests/s;
3. no event lost: every answered event is stored once and its job is in the queue;
4. processing: start one payments worker and time until every payment has succeeded.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pika
import psycopg

from tests.fakes.payments_signing import stripe_event, stripe_header
from tests.support import Stack, eventually, fresh_database, fresh_vhost, resolve_services

SECRET = "whsec_bench"


def _signed(payment_id: uuid.UUID) -> tuple[bytes, dict[str, str]]:
    payload = stripe_event("payment_intent.succeeded", str(payment_id), amount=1000)
    headers = {
        "Stripe-Signature": stripe_header(payload, SECRET),
        "Content-Type": "application/json",
    }
    return payload, headers


def _drive(
    url: str, requests: list[tuple[bytes, dict[str, str]]], rate: float | None, threads: int
) -> tuple[list[float], float, float, int]:
    """Send `requests` from `threads` blocking clients (httpx's async client is the
    bottleneck on 2 cores), at `rate` per second on an open schedule, or flat out if None.

    Returns latencies (from send to answer), elapsed time, the worst lag of a send behind
    its scheduled time (the generator keeping up), and the non-200 count.
    """
    latencies: list[float] = []
    lags: list[float] = [0.0]
    errors = [0]
    counter = itertools.count()
    start = time.perf_counter() + 0.2

    def run() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while (i := next(counter)) < len(requests):
                if rate is not None:
                    due = start + i / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                    lags.append(time.perf_counter() - due)
                payload, headers = requests[i]
                sent = time.perf_counter()
                answer = client.post("/v1/webhooks/stripe", content=payload, headers=headers)
                latencies.append(time.perf_counter() - sent)
                if answer.status_code != 200:
                    errors[0] += 1

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(run) for _ in range(threads)]:
            future.result()
    return latencies, time.perf_counter() - start, max(lags), errors[0]


def _count(database: str, query: str) -> int:
    with psycopg.connect(database) as connection:
        row = connection.execute(query).fetchone()
        return int(row[0]) if row else 0


def _depth(amqp: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--burst", type=int, default=2000)
    args = parser.parse_args()
    services = resolve_services()
    if isinstance(services, str):
        raise SystemExit(services)
    paced_n = int(args.rate * args.seconds)
    total = paced_n + args.burst
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        env: dict[str, Any] = {
            "RABBITMQ_URL": vhost,
            "RABBITMQ_MANAGEMENT_URL": services.management,
            "DATABASE_URL": database,
            "REDIS_URL": services.redis,
            "REDIS_KEY_PREFIX": f"bench:{uuid.uuid4().hex[:8]}:",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
        }
        stack = Stack(env, name="payments_bench")
        try:
            stack.start("gateway")
            stack.wait_ready()
            ids = [uuid.uuid4() for _ in range(total)]
            with psycopg.connect(database) as connection:
                connection.cursor().executemany(
                    "INSERT INTO payments.payments (id, user_id, amount, currency, provider, reference) VALUES (%s, 'bench', 1000, 'USD', 'stripe', 'bench')",
                    [(i,) for i in ids],
                )
            requests = [_signed(i) for i in ids]
            warmup = [_signed(uuid.uuid4()) for _ in range(50)]
            _drive(stack.url, warmup, None, 4)  # connections and caches warm

            latencies, elapsed, lag, paced_errors = _drive(
                stack.url, requests[:paced_n], args.rate, 16
            )
            _, burst_elapsed, _, burst_errors = _drive(stack.url, requests[paced_n:], None, 16)

            stored = _count(database, "SELECT count(*) FROM payments.webhook_events") - len(warmup)
            queued = _depth(vhost, "payments.stripe") - len(warmup)

            stack.start("payments")
            started = time.perf_counter()
            eventually(
                lambda: (
                    _count(
                        database,
                        "SELECT count(*) FROM payments.payments WHERE status = 'succeeded'",
                    )
                    == total
                ),
                timeout=600,
                interval=0.1,
            )
            processing = time.perf_counter() - started
        finally:
            stack.stop()

    ms = [x * 1000 for x in latencies]
    print(
        f"paced ingestion   : {paced_n} requests at target {args.rate:g}/s -> achieved {paced_n / elapsed:.0f}/s, errors {paced_errors}"
    )
    print(
        f"  latency (ms)    : p50 {statistics.median(ms):.1f}  p90 {_percentile(ms, 0.90):.1f}  p99 {_percentile(ms, 0.99):.1f}  max {max(ms):.1f}  (worst send lag {lag * 1000:.1f})"
    )
    print(
        f"burst ingestion   : {args.burst} requests, 16 concurrent -> {args.burst / burst_elapsed:.0f} requests/s, errors {burst_errors}"
    )
    print(f"no event lost     : answered {total}, stored {stored}, queued {queued}")
    print(
        f"worker processing : {total} events in {processing:.1f}s (incl. worker start-up) -> {total / processing:.0f} events/s"
    )


if __name__ == "__main__":
    main()
