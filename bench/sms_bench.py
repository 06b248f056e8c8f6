"""SMS figures: campaign throughput (1 and 2 workers, or `--workers 1,2,4`), single-send
latency under a backlog, gateway POST /v1/sms latency at a fixed request rate, and campaign
scale (10k / 50k / 100k recipients uploaded as CSV, one worker, msg/s from the POST, the
gateway's RSS).

    .venv/bin/python -m bench.sms_bench [--messages 20000] [--singles 50] [--rps 200 --seconds 10]
    .venv/bin/python -m bench.sms_bench --only throughput --workers 1,2,4 [--messages 20000]
    .venv/bin/python -m bench.sms_bench --only scale [--sizes 10000,50000,100000] [--chunk N]

Runs the Procfile's gateway and sms processes against the local RabbitMQ / Postgres / Redis
(a fresh vhost and database per scenario) with the `http` provider pointed at the fake
provider (tests/fakes/sms_provider.py) running as its own process. Prints figures; asserts
nothing. The machine is shared: read the numbers as indicative. Throughput, latency and
scale also save their raw results for `python -m bench.report` (bench/results.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

import aiohttp
import httpx

from bench.load import open_loop
from bench.results import Recording, module_command
from bench.sms_support import (
    cpu_seconds,
    fake_provider,
    post_campaign,
    post_scale_campaign,
    postgres_cpu,
    provider_burst,
    rss_mb,
    sms_stack,
    stats,
    wait_delivered,
    wait_settled,
)
from tests.support import USER_KEY


def throughput(workers: int, messages: int) -> dict[str, Any]:
    with fake_provider() as provider, sms_stack(f"tp{workers}", provider, workers) as stack:
        with stack.client(USER_KEY) as client:
            posted = time.time()
            campaign_id = post_campaign(client, messages)
            accepted = time.time()
            done = wait_delivered(provider, messages)
            progress = wait_settled(client, campaign_id)
        span = done["last_at"] - done["first_at"]
        print(
            f"campaign throughput, {workers} sms worker(s), {messages} messages: "
            f"{messages / span:,.0f} msg/s first→last delivery ({span:.1f} s); "
            f"{messages / (done['last_at'] - posted):,.0f} msg/s POST→last "
            f"(POST itself {accepted - posted:.1f} s); provider calls {done['calls']}, "
            f"duplicates {done['duplicates']}; campaign counts: sent {progress['sent']}, "
            f"failed {progress['failed']}, pending {progress['pending']}",
            flush=True,
        )
    return {
        "workers": workers,
        "messages": messages,
        "first_to_last_msgs_per_s": messages / span,
        "from_post_msgs_per_s": messages / (done["last_at"] - posted),
        "post_seconds": accepted - posted,
        "duplicates": done["duplicates"],
        "sent": progress["sent"],
        "failed": progress["failed"],
    }


def backlog_latency(messages: int, singles: int) -> dict[str, Any]:
    # A provider that takes 200 ms per call, and 2 workers holding one batch of 100 campaign
    # messages each: ~1,000 campaign messages/s, so the backlog lasts the whole measurement.
    batch = 100
    with (
        fake_provider(latency=0.2) as provider,
        sms_stack("latency", provider, 2, SMS_BULK_BATCH=batch, SMS_BULK_PREFETCH=1) as stack,
    ):
        management = stack.env["RABBITMQ_MANAGEMENT_URL"]
        vhost = stack.env["RABBITMQ_URL"].rsplit("/", 1)[1]
        with stack.client(USER_KEY) as client:
            post_campaign(client, messages)
            # Until half the campaign waits in sms.bulk (or a minute passed: then the
            # figure below says how much backlog there really was).
            deadline = time.monotonic() + 60
            while (
                httpx.get(f"{management}/api/queues/{vhost}/sms.bulk", timeout=5)
                .json()
                .get("messages_ready", 0)
                * batch
                < messages // 2
            ) and time.monotonic() < deadline:
                time.sleep(0.1)
            latencies: list[float] = []
            for n in range(singles):
                submitted = time.time()
                sms_id = client.post(
                    "/v1/sms", json={"to": f"+24166{n:06d}", "message": "urgent"}
                ).json()["id"]
                while (
                    at := httpx.get(f"{provider}/deliveries/{sms_id}", timeout=5).json()["at"]
                ) is None:
                    time.sleep(0.005)
                latencies.append(at - submitted)
                time.sleep(0.1)
            left = messages - (stats(provider)["deliveries"] - singles)
        latencies.sort()
        print(
            f"single-send latency (POST → provider) behind a {messages}-message campaign, "
            f"{singles} sends: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms; campaign messages still queued at the end: {left}",
            flush=True,
        )
    return {
        "campaign_messages": messages,
        "latencies_s": latencies,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "campaign_left_at_end": left,
    }


async def _paced_posts(url: str, rps: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    # aiohttp as the load generator: httpx's pool costs the client more CPU per request
    # than the gateway spends, which would show up in the figure as gateway latency.
    async with aiohttp.ClientSession(
        base_url=url,
        headers={"Authorization": f"Bearer {USER_KEY}"},
        timeout=aiohttp.ClientTimeout(total=10),
        connector=aiohttp.TCPConnector(limit=100),
    ) as client:

        async def one(n: int) -> None:
            started = time.perf_counter()
            async with client.post(
                "/v1/sms", json={"to": f"+24177{n:06d}", "message": "hi"}
            ) as answer:
                await answer.read()
            latencies.append(time.perf_counter() - started)
            answer.raise_for_status()

        for warmup in range(50):
            await one(warmup)
        latencies.clear()
        await open_loop(rps, int(rps * seconds), one)
    return sorted(latencies)


def gateway_latency(rps: int, seconds: float) -> None:
    with fake_provider() as provider, sms_stack("gateway", provider, 1) as stack:
        latencies = asyncio.run(_paced_posts(stack.url, rps, seconds))
    print(
        f"gateway POST /v1/sms at {rps} req/s for {seconds:g} s ({len(latencies)} requests, "
        f"client-side): p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms",
        flush=True,
    )


def scale(sizes: list[int], chunk: int | None, body: str, timeout: float) -> dict[str, Any]:
    """One worker; each campaign after the previous one finished; msg/s from the POST."""
    env: dict[str, Any] = {"SMS_CAMPAIGN_MAX_RECIPIENTS": 1_000_000}
    # The product's chunk size unless asked otherwise; no delay between chunks (the
    # delay is a pacing choice, not a cost).
    env["SMS_BULK_CHUNK"] = chunk if chunk else 50
    with fake_provider() as provider:
        ceiling = asyncio.run(provider_burst(provider, 20000, 200))
        print(f"fake provider ceiling (20,000 calls, 200 at once, no worker): {ceiling:,.0f} msg/s")
        base = stats(provider)["deliveries"]
        with sms_stack("scale", provider, 1, **env) as stack:
            gateway = stack.processes["gateway"].pid
            worker = stack.processes["sms.1"].pid
            rows: list[tuple[int, float, float, float, float, float, float, float]] = []
            with stack.client(USER_KEY) as client:
                for count in sizes:
                    before = rss_mb(gateway)
                    worker_cpu, gateway_cpu = cpu_seconds(worker), cpu_seconds(gateway)
                    database_cpu = postgres_cpu(stack.env["DATABASE_URL"])
                    posted = time.time()
                    campaign_id = post_scale_campaign(client, count, body)
                    accepted = time.time()
                    gateway_cpu = cpu_seconds(gateway) - gateway_cpu
                    after = rss_mb(gateway)
                    try:
                        wait_delivered(provider, base + count, timeout=timeout)
                    except AssertionError as error:
                        print(f"{count:,}: not delivered within {timeout:g} s ({error})")
                        break
                    progress = wait_settled(client, campaign_id, timeout=timeout)
                    finished = time.time()
                    per_message = (cpu_seconds(worker) - worker_cpu) / count * 1e6
                    database_cpu = postgres_cpu(stack.env["DATABASE_URL"]) - database_cpu
                    db_per_message = database_cpu / count * 1e6
                    base += count
                    rate = count / (finished - posted)
                    rows.append(
                        (count, accepted - posted, finished - posted, rate, before, after,
                         per_message, db_per_message)
                    )  # fmt: skip
                    print(
                        f"{count:,} recipients ({body}): 202 in {accepted - posted:.1f} s "
                        f"(gateway CPU {gateway_cpu:.1f} s), "
                        f"settled in {finished - posted:.1f} s, {rate:,.0f} msg/s; counts "
                        f"sent {progress['sent']} failed {progress['failed']} "
                        f"skipped {progress['skipped']}; gateway RSS {before:.0f} → {after:.0f} MB; "
                        f"worker CPU {per_message:.0f} µs/message, "
                        f"Postgres CPU {db_per_message:.0f} µs/message",
                        flush=True,
                    )
    print(f"\nscale: 1 sms worker, body {body}, SMS_BULK_CHUNK {env['SMS_BULK_CHUNK']}, "
          f"fake provider ceiling {ceiling:,.0f} msg/s")  # fmt: skip
    print(
        "| recipients | 202 after | settled after | msg/s | worker CPU/message "
        "| Postgres CPU/message | gateway RSS before → after |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for count, answered, settled, rate, before, after, per_message, db_per_message in rows:
        print(
            f"| {count:,} | {answered:.1f} s | {settled:.1f} s | {rate:,.0f} "
            f"| {per_message:.0f} µs | {db_per_message:.0f} µs "
            f"| {before:.0f} → {after:.0f} MB (+{after - before:.0f}) |"
        )
    if len(rows) >= 2:
        print(f"largest / smallest rate: {rows[-1][3] / rows[0][3]:.0%} (target ≥ 90 %)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores; a shared machine)")
    fields = (
        "recipients",
        "accepted_s",
        "settled_s",
        "msgs_per_s",
        "gateway_rss_before_mb",
        "gateway_rss_after_mb",
        "worker_cpu_us_per_msg",
        "postgres_cpu_us_per_msg",
    )
    return {
        "body": body,
        "chunk": env["SMS_BULK_CHUNK"],
        "provider_ceiling_msgs_per_s": ceiling,
        "campaigns": [dict(zip(fields, row, strict=True)) for row in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--singles", type=int, default=50)
    parser.add_argument("--rps", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", default="throughput,latency,gateway")
    parser.add_argument(
        "--workers", default="1,2", help="sms worker counts for throughput (e.g. 1,2,4)"
    )
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--chunk", type=int, default=None, help="SMS_BULK_CHUNK for scale")
    parser.add_argument("--body", choices=("csv", "json"), default="csv")
    parser.add_argument("--timeout", type=float, default=900, help="per scale campaign")
    args = parser.parse_args()
    only = set(args.only.split(","))
    command = module_command("bench.sms_bench")
    # Each figure the report plots is saved as soon as it is measured (bench/results.py).
    if "throughput" in only:
        recording = Recording(command)
        counts = [int(count) for count in args.workers.split(",")]
        runs = [throughput(workers, args.messages) for workers in counts]
        recording.save(
            "campaign-workers", {"messages": args.messages, "workers": counts}, {"runs": runs}
        )
    if "latency" in only:
        recording = Recording(command)
        latency = backlog_latency(args.messages, args.singles)
        recording.save(
            "backlog-latency", {"messages": args.messages, "singles": args.singles}, latency
        )
    if "gateway" in only:
        gateway_latency(args.rps, args.seconds)
    if "scale" in only:
        recording = Recording(command)
        sizes = [int(size) for size in args.sizes.split(",")]
        result = scale(sizes, args.chunk, args.body, args.timeout)
        parameters = {"sizes": sizes, "body": args.body, "chunk": args.chunk}
        recording.save(f"campaign-scale-{args.body}", parameters, result)


if __name__ == "__main__":
    main()
