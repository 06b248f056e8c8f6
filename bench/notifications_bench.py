"""Notifications and images figures: `python -m bench.notifications_bench [--only api,fanout,images]`.

1. `POST /v1/notifications` latency under an open-loop load of 200 requests/s
   (normal = publish with confirm; critical = Postgres insert before the answer).
2. Fan-out: 1,000 SSE clients (split over two gateway replicas), one notification each,
   published like another domain would (a CreateNotification job): delivery latency from
   the publish to the event arriving on the client.
3. Image jobs: 12-megapixel JPEGs through 2 notifications workers, images/second.

Runs the real Procfile processes against RabbitMQ, Postgres and Redis from RABBITMQ_URL /
DATABASE_URL / REDIS_URL (localhost by default), in a fresh vhost and database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import httpx
from PIL import Image, ImageFilter

from bench.load import open_loop
from tests.support import Stack, eventually, fresh_database, fresh_vhost, resolve_services
from tests.support.stack import USER_KEY, free_port


def _percentiles(samples: Sequence[float]) -> str:
    ordered = sorted(samples)
    if not ordered:
        return "no samples"

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (
        f"n={len(ordered)} p50={pick(0.50):.1f} ms  p90={pick(0.90):.1f} ms  "
        f"p99={pick(0.99):.1f} ms  max={ordered[-1] * 1000:.1f} ms  "
        f"mean={statistics.fmean(ordered) * 1000:.1f} ms"
    )


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --------------------------------------------------------------------------- 1. API latency


async def _open_loop(
    url: str, priority: str, rate: float, seconds: float
) -> tuple[list[float], dict[int | str, int]]:
    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    errors: dict[int | str, int] = {}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {USER_KEY}"}, limits=limits, timeout=10
    ) as client:

        async def one(i: int) -> None:
            body = {
                "user_id": f"bench-{i % 50}",
                "title": "bench",
                "message": "latency",
                "priority": priority,
            }
            started = time.perf_counter()
            try:
                answer = await client.post("/v1/notifications", json=body)
            except httpx.HTTPError as error:
                name = type(error).__name__
                errors[name] = errors.get(name, 0) + 1
                return
            latencies.append(time.perf_counter() - started)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        # Warm the connection pool so connection set-up is not counted as API time.
        await asyncio.gather(*(one(i) for i in range(20)))
        latencies.clear()
        statuses.clear()
        await open_loop(rate, int(rate * seconds), one)
    return latencies, {**statuses, **errors}


def bench_api(env: dict[str, Any], rate: float, seconds: float) -> None:
    stack = Stack(env, name="bench_notifications_api")
    try:
        stack.start("gateway", API_RATE_PER_MINUTE=0, LOG_LEVEL="WARNING")
        stack.start("notifications", LOG_LEVEL="WARNING")
        stack.wait_ready()
        for priority in ("normal", "critical"):
            latencies, statuses = asyncio.run(_open_loop(stack.url, priority, rate, seconds))
            print(
                f"POST /v1/notifications {priority:8} at {rate:.0f} req/s for {seconds:.0f}s: {_percentiles(latencies)}  statuses={statuses}"
            )
    finally:
        stack.stop()


# --------------------------------------------------------------------------- 2. SSE fan-out


async def _fanout(
    urls: list[str], keys: list[str], rabbitmq_url: str, rate: float
) -> tuple[list[float], int]:
    from common.publisher import Publisher
    from common.settings import RuntimeSettings
    from notifications.contracts import NOTIFICATIONS_NORMAL, CreateNotification

    clients = len(keys)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    opened = 0
    all_open = asyncio.Event()
    all_received = asyncio.Event()
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    timeout = httpx.Timeout(30, read=None)

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:

        async def listen(i: int) -> None:
            nonlocal opened
            url = f"{urls[i % len(urls)]}/v1/notifications/stream"
            async with http.stream(
                "GET", url, headers={"Authorization": f"Bearer {keys[i]}"}
            ) as response:
                counted = False
                async for line in response.aiter_lines():
                    if not counted:
                        counted = True
                        opened += 1
                        if opened == clients:
                            all_open.set()
                    if line.startswith("data: "):
                        notification = json.loads(line[6:])
                        latencies.append(time.time() - sent_at[notification["id"]])
                        if len(latencies) == clients:
                            all_received.set()
                        return

        listeners = [asyncio.create_task(listen(i)) for i in range(clients)]
        await asyncio.wait_for(all_open.wait(), 120)
        publisher = Publisher(RuntimeSettings(rabbitmq_url=rabbitmq_url), [NOTIFICATIONS_NORMAL])
        await publisher.connect()
        jobs = [
            CreateNotification(user_id=f"fan-{i}", title="fan-out", message="one each")
            for i in range(clients)
        ]

        async def publish(job: CreateNotification) -> None:
            sent_at[str(job.id)] = time.time()
            await publisher.publish(NOTIFICATIONS_NORMAL, job)

        if rate <= 0:
            await asyncio.gather(*(publish(job) for job in jobs))
        else:
            # Paced: latency without the queueing a burst of `clients` jobs adds.
            await open_loop(rate, len(jobs), lambda i: publish(jobs[i]))
        try:
            await asyncio.wait_for(all_received.wait(), 120)
        finally:
            await publisher.close()
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
    return latencies, clients


def bench_fanout(env: dict[str, Any], clients: int, rates: Sequence[float]) -> None:
    keys = [f"fan-key-{i}" for i in range(clients)]
    api_keys = ",".join(f"{key}=fan-{i}" for i, key in enumerate(keys))
    stack = Stack(env, name="bench_notifications_fanout")
    stack.env["API_KEYS"] = api_keys
    try:
        port_b = free_port()
        common: dict[str, Any] = {"API_RATE_PER_MINUTE": 0, "LOG_LEVEL": "WARNING"}
        stack.start("gateway", **common)
        stack.start("gateway", replica=2, GATEWAY_PORT=port_b, **common)
        stack.start("notifications", LOG_LEVEL="WARNING")
        stack.wait_ready()
        replica_b = f"http://127.0.0.1:{port_b}"
        eventually(lambda: _ready(replica_b), timeout=60)
        stack.wait_consuming("notifications.normal")
        for rate in rates:
            latencies, count = asyncio.run(
                _fanout([stack.url, replica_b], keys, env["RABBITMQ_URL"], rate)
            )
            how = "burst publish" if rate <= 0 else f"published at {rate:.0f}/s"
            print(
                f"SSE fan-out, {count} clients on 2 replicas, one notification each ({how}): "
                f"{_percentiles(latencies)}"
            )
    finally:
        stack.stop()


# --------------------------------------------------------------------------- 3. images


def twelve_megapixel_jpeg() -> bytes:
    """A 4000 x 3000 photo-like JPEG (gradients and texture, about 2-4 MB)."""
    gradient = Image.linear_gradient("L").resize((4000, 3000))
    radial = Image.radial_gradient("L").resize((4000, 3000))
    noise = Image.effect_noise((4000, 3000), 40).filter(ImageFilter.GaussianBlur(1))
    image = Image.merge("RGB", (gradient, radial, noise))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def bench_images(env: dict[str, Any], count: int, workers: int) -> None:
    photo = twelve_megapixel_jpeg()
    with tempfile.TemporaryDirectory(prefix="relay-bench-images-") as storage:
        stack = Stack(env, name="bench_notifications_images")
        try:
            stack.start(
                "gateway", IMAGE_STORAGE_DIR=storage, API_RATE_PER_MINUTE=0, LOG_LEVEL="WARNING"
            )
            stack.wait_ready()
            with stack.client() as client:
                # Queue everything first, then start the workers: the clock measures
                # processing only, not uploads.
                ids = []
                for _ in range(count):
                    answer = client.post(
                        "/v1/images", files={"file": ("p.jpg", photo, "image/jpeg")}
                    )
                    assert answer.status_code == 202, answer.text
                    ids.append(answer.json()["id"])
                for replica in range(1, workers + 1):
                    stack.start(
                        "notifications",
                        replica=replica,
                        IMAGE_STORAGE_DIR=storage,
                        LOG_LEVEL="WARNING",
                    )
                stack.wait_consuming("notifications.image", consumers=workers)
                started = time.perf_counter()

                def all_done() -> bool:
                    statuses = [client.get(f"/v1/images/{i}").json()["status"] for i in ids]
                    assert "failed" not in statuses
                    return all(s == "done" for s in statuses)

                eventually(all_done, timeout=600, interval=0.2)
                elapsed = time.perf_counter() - started
            print(
                f"image jobs: {count} x 12 MP JPEG ({len(photo) / 1e6:.1f} MB each), {workers} workers: "
                f"{elapsed:.1f}s, {count / elapsed:.2f} images/s ({elapsed / count * workers * 1000:.0f} ms per image per worker)"
            )
        finally:
            stack.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="api,fanout,images")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument(
        "--fanout-rates",
        default="0,200",
        help="publish rates for the fan-out runs, comma separated (0 = all at once)",
    )
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rabbitmq-url",
        default="",
        help="use this vhost's AMQP URL instead of creating a fresh vhost per part",
    )
    args = parser.parse_args(argv)
    services = resolve_services()
    if isinstance(services, str):
        print(f"services unavailable: {services}")
        return 1
    for part in args.only.split(","):
        vhosts = (
            contextlib.nullcontext(args.rabbitmq_url)
            if args.rabbitmq_url
            else fresh_vhost(services)
        )
        with vhosts as vhost, fresh_database(services) as database:
            env = {
                "RABBITMQ_URL": vhost,
                "RABBITMQ_MANAGEMENT_URL": services.management,
                "DATABASE_URL": database,
                "REDIS_URL": services.redis,
                "REDIS_KEY_PREFIX": f"bench:{part}:",
            }
            if part == "api":
                bench_api(env, args.rate, args.seconds)
            elif part == "fanout":
                rates = [float(r) for r in args.fanout_rates.split(",")]
                bench_fanout(env, args.clients, rates)
            elif part == "images":
                bench_images(env, args.images, args.workers)
            else:
                print(f"unknown part {part!r}")
                return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
