"""SMS figures: campaign throughput (1 and 2 workers), single-send latency under a backlog,
gateway POST /v1/sms latency at a fixed request rate, and campaign scale (10k / 50k / 100k
recipients uploaded as CSV, one worker, msg/s from the POST, the gateway's RSS).

    .venv/bin/python -m bench.sms_bench [--messages 20000] [--singles 50] [--rps 200 --seconds 10]
    .venv/bin/python -m bench.sms_bench --only scale [--sizes 10000,50000,100000] [--chunk N]

Runs the Procfile's gateway and sms processes against the local RabbitMQ / Postgres / Redis
(a fresh vhost and database per scenario) with the `http` provider pointed at the fake
provider (tests/fakes/sms_provider.py) running as its own process. Prints figures; asserts
nothing. The machine is shared: read the numbers as indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx

from bench.load import open_loop
from tests.support import (
    USER_KEY,
    Stack,
    eventually,
    fresh_database,
    fresh_vhost,
    resolve_services,
)
from tests.support.stack import ROOT, free_port


@contextlib.contextmanager
def fake_provider(latency: float = 0.0) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.sms_provider",
            "--port",
            str(port),
            "--latency",
            str(latency),
        ],
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{base}/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def sms_stack(name: str, provider: str, workers: int, **env: Any) -> Iterator[Stack]:
    services = resolve_services()
    if isinstance(services, str):
        raise SystemExit(f"services unavailable: {services}")
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        base = {
            "RABBITMQ_URL": vhost,
            "RABBITMQ_MANAGEMENT_URL": services.management,
            "DATABASE_URL": database,
            "REDIS_URL": services.redis,
            "REDIS_KEY_PREFIX": f"bench:{name}:{time.time_ns()}:",
            "SMS_PROVIDER": "http",
            "SMS_HTTP_URL": f"{provider}/sms",
            "SMS_DEFAULT_REGION": "GA",
            "SMS_BULK_PER_HOUR": 0,
            "SMS_BULK_CHUNK": 5000,
            "SMS_BULK_CHUNK_DELAY": 0,
            "API_RATE_PER_MINUTE": 0,
            "SMS_RATE_PER_MINUTE": 0,
            "SMS_CAMPAIGNS_PER_HOUR": 0,
            **env,
        }
        stack = Stack(base, name=f"bench_sms_{name}")
        try:
            stack.start("gateway")
            for replica in range(1, workers + 1):
                stack.start("sms", replica=replica)
            stack.wait_ready(120)
            for queue in ("sms.send", "sms.bulk", "sms.campaign"):
                stack.wait_consuming(queue, consumers=workers, timeout=120)
            yield stack
        finally:
            stack.stop()


def stats(provider: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{provider}/stats", timeout=10).json()
    return answer


def post_campaign(client: httpx.Client, count: int) -> str:
    recipients = [{"phone": f"+24177{n:06d}", "name": f"C{n}"} for n in range(count)]
    answer = client.post(
        "/v1/campaigns",
        json={"name": "bench", "message": "Bonjour #name", "recipients": recipients},
        timeout=120,
    )
    answer.raise_for_status()
    campaign_id: str = answer.json()["id"]
    return campaign_id


def wait_delivered(provider: str, count: int, timeout: float = 600) -> dict[str, Any]:
    def delivered() -> dict[str, Any]:
        current = stats(provider)
        assert current["deliveries"] >= count, f"only {current['deliveries']} of {count} delivered"
        return current

    return eventually(delivered, timeout=timeout, interval=0.2)


def wait_settled(client: httpx.Client, campaign_id: str, timeout: float = 120) -> dict[str, Any]:
    """The campaign's counts once nothing is pending: the database agrees with the provider."""

    def settled() -> dict[str, Any]:
        progress: dict[str, Any] = client.get(f"/v1/campaigns/{campaign_id}").json()
        assert progress["pending"] == 0, f"{progress['pending']} still pending"
        return progress

    return eventually(settled, timeout=timeout, interval=0.2)


def throughput(workers: int, messages: int) -> None:
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


def backlog_latency(messages: int, singles: int) -> None:
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


async def _provider_burst(url: str, count: int, concurrency: int) -> float:
    """msg/s the fake provider takes from a client that never waits for anything else."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = iter(range(count))

        async def caller() -> None:
            for n in queue:
                payload = {"id": f"ceiling-{n}", "to": f"+24188{n:06d}", "from": "x", "body": "hi"}
                async with session.post(
                    f"{url}/sms", json=payload, headers={"Idempotency-Key": f"ceiling-{n}"}
                ) as answer:
                    await answer.read()

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


def rss_mb(pid: int) -> float:
    """Resident set size of a process (Linux /proc), in MB."""
    for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process used so far: a cost that a loaded machine
    stretches in time but does not inflate."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu(database_url: str) -> float:
    """CPU time of the Postgres backends serving `database_url` (the stack's pools keep
    theirs for the whole run): where a scan that grows with the campaign would show."""
    database = database_url.rsplit("/", 1)[1].encode()
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read()
            if command.startswith(b"postgres:") and b" " + database + b" " in command:
                total += cpu_seconds(int(pid))
        except OSError:
            continue  # a backend that ended meanwhile
    return total


def campaign_csv(count: int) -> bytes:
    lines = ["phone,name,pledge"]
    lines += [f"+24177{n:06d},C{n},{n % 1000}" for n in range(count)]
    return ("\n".join(lines) + "\n").encode()


def post_scale_campaign(client: httpx.Client, count: int, body: str) -> str:
    if body == "csv":
        answer = client.post(
            "/v1/campaigns",
            params={"name": f"scale {count}", "message": "Bonjour #name, #pledge"},
            content=campaign_csv(count),
            headers={"Content-Type": "text/csv"},
            timeout=300,
        )
    else:
        recipients = [
            {"phone": f"+24177{n:06d}", "name": f"C{n}", "pledge": n % 1000} for n in range(count)
        ]
        answer = client.post(
            "/v1/campaigns",
            json={"name": f"scale {count}", "message": "Bonjour #name, #pledge",
                  "recipients": recipients},
            timeout=300,
        )  # fmt: skip
    answer.raise_for_status()
    campaign_id: str = answer.json()["id"]
    return campaign_id


def scale(sizes: list[int], chunk: int | None, body: str, timeout: float) -> None:
    """One worker; each campaign after the previous one finished; msg/s from the POST."""
    env: dict[str, Any] = {"SMS_CAMPAIGN_MAX_RECIPIENTS": 1_000_000}
    # The product's chunk size unless asked otherwise; no delay between chunks (the
    # delay is a pacing choice, not a cost).
    env["SMS_BULK_CHUNK"] = chunk if chunk else 50
    with fake_provider() as provider:
        ceiling = asyncio.run(_provider_burst(provider, 20000, 200))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--singles", type=int, default=50)
    parser.add_argument("--rps", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", default="throughput,latency,gateway")
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--chunk", type=int, default=None, help="SMS_BULK_CHUNK for scale")
    parser.add_argument("--body", choices=("csv", "json"), default="csv")
    parser.add_argument("--timeout", type=float, default=900, help="per scale campaign")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if "throughput" in only:
        for workers in (1, 2):
            throughput(workers, args.messages)
    if "latency" in only:
        backlog_latency(args.messages, args.singles)
    if "gateway" in only:
        gateway_latency(args.rps, args.seconds)
    if "scale" in only:
        sizes = [int(size) for size in args.sizes.split(",")]
        scale(sizes, args.chunk, args.body, args.timeout)


if __name__ == "__main__":
    main()
