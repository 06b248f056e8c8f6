"""Soak: a steady mixed load for many minutes with short retention; nothing grows, nothing is lost.

    .venv/bin/python -m bench.soak --minutes 20 [--sms 10 --webhooks 5 --notifications 10]

Runs the Procfile's gateway and sms, payments and notifications workers in a fresh vhost
and database (RabbitMQ, Postgres and Redis from RABBITMQ_URL / DATABASE_URL / REDIS_URL,
localhost by default), with every RETENTION_* set to a few minutes at most and pruning
every fraction of that. An open-loop load sends single SMS (each with an Idempotency-Key),
Stripe webhooks (each for a payment created just before) and normal notifications at
fixed rates. Every --sample seconds it records the size of every table retention prunes,
of the business tables (which grow by design), the Redis keys of the run, and the RSS of
each process. At the end it waits for the queues to drain and counts lost jobs:
accepted sends not delivered, accepted webhooks not applied, accepted notifications not
stored (from the notifications worker's metrics, since retention deletes the rows).

Prints both series, the growth of each over the last half of the run (flat: within 10 %),
writes a PNG plot (matplotlib, in the `bench` dependency group) and saves every sample
(with RSS and jobs done per worker, i.e. throughput over time) for `python -m bench.report`
(bench/soak_series.py, bench/results.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from bench import soak_series
from bench.load import open_loop
from bench.results import Recording, module_command
from bench.soak_series import Accepted, Sample, Sampler, jobs_done
from tests.fakes.payments_signing import stripe_event, stripe_header
from tests.support import Stack, eventually_async, fresh_database, fresh_vhost, resolve_services
from tests.support.stack import free_port

SECRET = "whsec_soak"
WORKERS = ("sms", "payments", "notifications")


# --------------------------------------------------------------------------- load


async def _load(client: httpx.AsyncClient, args: argparse.Namespace, accepted: Accepted) -> None:
    seconds = args.minutes * 60

    async def sms(i: int) -> None:
        answer = await client.post(
            "/v1/sms",
            json={"to": "+15005550006", "message": f"soak {i}"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if answer.status_code != 202:
            accepted.refuse("sms", answer.status_code)
            return
        accepted.sms += 1
        # The log provider's id is `log-<sms id>`: report it delivered at once, as a fast
        # provider would, often before the worker has recorded the id (an early receipt).
        receipt = await client.post(
            "/v1/sms/status",
            json={"provider_id": f"log-{answer.json()['id']}", "status": "delivered"},
        )
        if receipt.status_code == 200:
            accepted.receipts += 1
        else:
            accepted.refuse("receipt", receipt.status_code)

    async def webhook(i: int) -> None:
        payment = await client.post(
            "/v1/payments",
            json={"amount": 1000, "currency": "USD", "provider": "stripe", "reference": f"s{i}"},
        )
        if payment.status_code != 201:
            accepted.refuse("payment", payment.status_code)
            return
        payload = stripe_event("payment_intent.succeeded", payment.json()["id"], amount=1000)
        answer = await client.post(
            "/v1/webhooks/stripe",
            content=payload,
            headers={
                "Stripe-Signature": stripe_header(payload, SECRET),
                "Content-Type": "application/json",
            },
        )
        if answer.status_code == 200:
            accepted.webhooks += 1
        else:
            accepted.refuse("webhook", answer.status_code)

    async def notification(i: int) -> None:
        answer = await client.post(
            "/v1/notifications",
            # A user key may notify only its own user (a service key any user).
            json={"user_id": "user-1", "title": "soak", "message": f"n{i}"},
        )
        if answer.status_code == 202:
            accepted.notifications += 1
        else:
            accepted.refuse("notification", answer.status_code)

    async def guarded(one: Any, i: int) -> None:
        try:
            await one(i)
        except httpx.HTTPError as error:
            accepted.refuse(f"{one.__name__} {type(error).__name__}", 0)

    def loop(rate: float, one: Any) -> Any:
        return open_loop(rate, int(rate * seconds), lambda i: guarded(one, i))

    await asyncio.gather(
        loop(args.sms, sms), loop(args.webhooks, webhook), loop(args.notifications, notification)
    )


# --------------------------------------------------------------------------- the run


async def run(args: argparse.Namespace, env: dict[str, Any], recording: Recording) -> int:
    stack = Stack(env, name="soak")
    ports = {name: free_port() for name in WORKERS}
    try:
        stack.start("gateway")
        for name in WORKERS:
            stack.start(name, METRICS_PORT=ports[name])
        stack.wait_ready(timeout=120)
        for queue in ("sms.send", "payments.stripe", "notifications.normal"):
            stack.wait_consuming(queue, timeout=120)
        pool = await asyncpg.create_pool(env["DATABASE_URL"], min_size=1, max_size=2)
        redis = Redis.from_url(env["REDIS_URL"])
        samples: list[Sample] = []
        accepted = Accepted()
        limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
        headers = {"Authorization": "Bearer user-key"}
        # No pool timeout: on a loaded machine a request waits for a connection rather
        # than counting as refused (the report shows how far the load fell behind).
        timeout = httpx.Timeout(30, pool=None)
        async with httpx.AsyncClient(
            base_url=stack.url, headers=headers, timeout=timeout, limits=limits
        ) as client:
            started = time.monotonic()
            load = asyncio.create_task(_load(client, args, accepted))
            sampler = Sampler(pool, redis, env["REDIS_KEY_PREFIX"], stack, started, accepted, ports)
            sampling = asyncio.create_task(sampler.sample_forever(samples, args.sample, load))
            try:
                await load
            except asyncio.CancelledError:
                return 2
            load_end = time.monotonic() - started
            print(f"load done after {load_end:.0f} s; draining", flush=True)
            sampling.cancel()
        samples.append(await sampler.sample())

        async def drained() -> tuple[int, int, int]:
            sent = int(
                await pool.fetchval("SELECT count(*) FROM sms.messages WHERE status = 'delivered'")
            )
            paid = int(
                await pool.fetchval(
                    "SELECT count(*) FROM payments.payments WHERE status = 'succeeded'"
                )
            )
            stored = await jobs_done(ports["notifications"], "notifications.normal")
            return sent, paid, stored

        async def complete() -> bool:
            sent, paid, stored = await drained()
            return (
                sent >= accepted.sms
                and paid >= accepted.webhooks
                and stored >= (accepted.notifications)
            )

        with contextlib.suppress(AssertionError):  # what is missing counts as lost below
            await eventually_async(complete, timeout=args.drain, interval=1)
        sent, paid, stored = await drained()
        failed = int(await pool.fetchval("SELECT count(*) FROM runtime.failed_jobs"))
        outbox = int(await pool.fetchval("SELECT count(*) FROM runtime.outbox"))
        await pool.close()
        await redis.aclose()
    finally:
        stack.stop()

    half = args.minutes * 60 / 2
    growing = soak_series.report(samples, half, load_end)
    # An open loop that fell behind sends its backlog in a burst at the end: not a
    # steady load, so growth then says nothing about retention.
    behind = load_end > 1.1 * args.minutes * 60
    soak_series.plot(samples, Path(args.plot))
    lost = (
        max(0, accepted.receipts - sent)
        + max(0, accepted.webhooks - paid)
        + max(0, accepted.notifications - stored)
    )
    print(f"\nplot: {args.plot}")
    print(
        f"accepted: sms {accepted.sms} (receipts {accepted.receipts}), webhooks {accepted.webhooks}, "
        f"notifications {accepted.notifications}; refused: {accepted.refused or 'none'}"
    )
    print(
        f"done: sms delivered (sent, receipt applied) {sent} of {accepted.receipts} receipts, "
        f"payments applied {paid}, notifications stored {stored}"
    )
    print(f"left: failed jobs {failed}, outbox {outbox}; lost jobs: {lost}")
    if behind:
        print(
            f"INCONCLUSIVE: the load took {load_end:.0f} s instead of {args.minutes * 60:.0f} s "
            "(the machine could not hold it): rerun with lower rates on a quieter machine"
        )
    print(f"verdict: {'GROWING: ' + ', '.join(growing) if growing else 'flat'}, lost {lost}")
    parameters = {
        key: getattr(args, key) for key in ("minutes", "sms", "webhooks", "notifications", "sample")
    }
    outcome = {
        "lost": lost,
        "growing": growing,
        "behind_schedule": behind,
        "refused": accepted.refused,
    }
    soak_series.save(recording, parameters, samples, load_end, outcome)
    return 1 if lost or (growing and not behind) else 3 if behind else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--sms", type=float, default=10, help="single sends per second")
    parser.add_argument("--webhooks", type=float, default=5, help="webhooks per second")
    parser.add_argument("--notifications", type=float, default=10, help="per second")
    parser.add_argument("--sample", type=float, default=15, help="seconds between samples")
    parser.add_argument(
        "--retention-seconds",
        type=float,
        default=None,
        help="every RETENTION_* (default: an eighth of the run, at least 30 s)",
    )
    parser.add_argument("--drain", type=float, default=300, help="seconds to wait at the end")
    parser.add_argument("--plot", default="tests/artifacts/soak.png")
    args = parser.parse_args()
    recording = Recording(module_command("bench.soak"))
    retention = args.retention_seconds or max(30.0, args.minutes * 60 / 8)
    services = resolve_services()
    if isinstance(services, str):
        raise SystemExit(services)
    days = f"{retention / 86_400:.8f}"
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        env: dict[str, Any] = {
            "RABBITMQ_URL": vhost,
            "RABBITMQ_MANAGEMENT_URL": services.management,
            "DATABASE_URL": database,
            "REDIS_URL": services.redis,
            "REDIS_KEY_PREFIX": f"soak:{uuid.uuid4().hex[:8]}:",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
            "SMS_RATE_PER_MINUTE": "0",
            "API_RATE_PER_MINUTE": "0",
            **{
                f"RETENTION_{kind}_DAYS": days
                for kind in (
                    "PROCESSED_MESSAGES",
                    "IDEMPOTENCY_KEYS",
                    "DASHBOARD_RECORDS",
                    "ATTEMPT_LOGS",
                    "SSE_REPLAY",
                    "FAILED_JOBS",
                )
            },
            "PRUNE_EVERY_SECONDS": f"{max(5.0, retention / 4):g}",
            "LIFECYCLE_RECENT_SECONDS": "60",
            "LIFECYCLE_FAILED_SECONDS": "60",
        }
        print(
            f"soak: {args.minutes:g} min at {args.sms:g} sms/s, {args.webhooks:g} webhooks/s, "
            f"{args.notifications:g} notifications/s; retention {retention:.0f} s, "
            f"pruned every {max(5.0, retention / 4):.0f} s; a sample every {args.sample:g} s",
            flush=True,
        )
        raise SystemExit(asyncio.run(run(args, env, recording)))


if __name__ == "__main__":
    main()
