"""Driving the `bridge` process in e2e tests: start it beside the gateway and workers, put
Laravel jobs on its queues exactly as the Laravel RabbitMQ driver does (tests/laravel's
publish.php, on real Laravel), and look at what Relay made of them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pika

from tests.support import ADMIN_KEY, Stack, eventually
from tests.support.laravel import LaravelMessage, laravel_messages

SMS_JOB = "App\\Jobs\\SendSmsJob"
BULK_JOB = "App\\Jobs\\SendBulkSmsJob"
NOTIFICATION_JOB = "App\\Jobs\\SendNotificationJob"
IMAGE_JOB = "App\\Jobs\\ProcessImageJob"
OTP_JOB = "App\\Jobs\\SendOtpSmsJob"
USER_MODEL = "App\\Models\\User"


def fresh_logs(stack: Stack) -> None:
    """Forget the logs an earlier run of the same test left (they are appended to)."""
    for log in stack.logs.glob("*.log"):
        log.unlink()


def start_bridge(stack: Stack, queues: str, **env: Any) -> None:
    """The bridge consuming the Laravel queues `queues` (comma separated) on the test's
    vhost; returns once it consumes every one of them and their retry queues."""
    stack.start("bridge", LARAVEL_QUEUES=queues, **env)
    for queue in queues.split(","):
        stack.wait_consuming(queue)
        stack.wait_consuming(f"laravel.{queue}")


def dispatch(
    stack: Stack, queue: str, jobs: list[dict[str, Any]], **options: Any
) -> list[LaravelMessage]:
    """`jobs` built by Laravel and published to Laravel queue `queue` as the driver does."""
    return laravel_messages(jobs, queue=queue, amqp_url=stack.env["RABBITMQ_URL"], **options)


def publish_raw(stack: Stack, queue: str, bodies: list[bytes], attempts: int = 0) -> None:
    """Bodies published as the driver publishes (for payloads Laravel would never build)."""
    import base64

    jobs = [{"raw": base64.b64encode(body).decode(), "attempts": attempts} for body in bodies]
    dispatch(stack, queue, jobs)


def queue_depth(stack: Stack, queue: str) -> tuple[int, int]:
    """(ready, consumers) of `queue`, asked of the broker now (passive declare)."""
    connection = pika.BlockingConnection(pika.URLParameters(stack.env["RABBITMQ_URL"]))
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        return int(declared.method.message_count), int(declared.method.consumer_count)
    finally:
        connection.close()


def unacked(stack: Stack, queue: str) -> int:
    """Messages of `queue` delivered and not acked (management API: a few seconds late)."""
    from urllib.parse import quote, unquote, urlsplit

    vhost = quote(unquote(urlsplit(stack.env["RABBITMQ_URL"]).path[1:]), safe="")
    answer = httpx.get(
        f"{stack.env['RABBITMQ_MANAGEMENT_URL']}/api/queues/{vhost}/{quote(queue, safe='')}",
        timeout=10,
    )
    answer.raise_for_status()
    return int(answer.json().get("messages_unacknowledged", 0))


def failed_jobs(stack: Stack, queue: str) -> list[dict[str, Any]]:
    with stack.client(ADMIN_KEY) as admin:
        answer = admin.get("/v1/ops/failed", params={"queue": queue, "limit": 1000})
        assert answer.status_code == 200, answer.text
        rows: list[dict[str, Any]] = answer.json()
        return rows


def failed_body(stack: Stack, failed_id: str) -> bytes:
    with stack.client(ADMIN_KEY) as admin:
        answer = admin.get(f"/v1/ops/failed/{failed_id}/body")
        assert answer.status_code == 200, answer.text
        return answer.content


def sql(stack: Stack, query: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of `query` on the stack's database."""

    async def run() -> list[dict[str, Any]]:
        connection = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            return [dict(row) for row in await connection.fetch(query, *args)]
        finally:
            await connection.close()

    return asyncio.run(run())


def bridge_outcomes(stack: Stack, label: str = "bridge") -> list[dict[str, Any]]:
    """The bridge's log lines about settled Laravel jobs, in order."""
    lines = []
    for line in stack.tail(label, 1_000_000).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and str(record.get("msg", "")).startswith("laravel job "):
            lines.append(record)
    return lines


def wait_settled(stack: Stack, queue: str, timeout: float = 60) -> None:
    """Until Laravel queue `queue` holds nothing, ready or unacked."""

    def empty() -> bool:
        ready, _ = queue_depth(stack, queue)
        return ready == 0 and unacked(stack, queue) == 0

    eventually(empty, timeout=timeout, interval=0.5)
