"""The SMS benchmarks' plumbing: the fake provider as a process, the gateway and sms
workers on a fresh vhost and database, campaigns posted and waited for, and the CPU and
memory of the processes read from /proc. Nothing here is timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx

from tests.support import (
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


async def provider_burst(url: str, count: int, concurrency: int) -> float:
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
