"""tests/laravel/publish.php puts Laravel jobs on RabbitMQ exactly as the Laravel RabbitMQ
driver does (the wire the bridge reads): default exchange, routing key = queue, JSON,
persistent, correlation_id = the payload's id, header `laravel` = {attempts}, nothing else;
the queue declared durable with no arguments when missing, used as it is when it exists."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import pika
import pytest
from bridge.laravel_crypto import parse_app_key
from bridge.wire import parse_message

from tests.support import ServiceUrls
from tests.support.laravel import LaravelMessage, laravel_messages, random_app_key, require_php
from tests.support.polling import eventually

SMS = "App\\Jobs\\SendSmsJob"


@pytest.fixture(autouse=True)
def _php() -> None:
    require_php()


def management_queue(services: ServiceUrls, amqp_url: str, queue: str) -> dict[str, Any]:
    vhost = quote(unquote(urlsplit(amqp_url).path[1:]), safe="")
    answer = httpx.get(
        f"{services.management}/api/queues/{vhost}/{quote(queue, safe='')}", timeout=10
    )
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def drain(amqp_url: str, queue: str, expected: int) -> list[tuple[Any, Any, bytes]]:
    """Every message on `queue` (method, properties, body), in order, waiting for `expected`."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        got: list[tuple[Any, Any, bytes]] = []

        def all_there() -> bool:
            while (delivery := channel.basic_get(queue, auto_ack=True))[0] is not None:
                got.append(delivery)
            return len(got) >= expected

        eventually(all_there, timeout=20)
        return got
    finally:
        connection.close()


def test_messages_are_published_as_the_driver_publishes_them(
    services: ServiceUrls, vhost_url: str
) -> None:
    app_key = random_app_key()
    jobs = [
        {"class": SMS, "args": [1, "+241 77 75 07 37", f"Test concurrent n°{n} 😀"]}
        for n in range(20)
    ]
    jobs += [
        {"class": "App\\Jobs\\SendOtpSmsJob", "args": [2, "+24177750737", "code 9876"]},
        {"class": SMS, "args": [3, "+24177750738", "released twice"], "attempts": 2},
        {"raw": base64.b64encode(b"not json \xff").decode()},
    ]
    published = laravel_messages(jobs, queue="sms", app_key=app_key, amqp_url=vhost_url)
    assert len(published) == len(jobs)

    queue = management_queue(services, vhost_url, "sms")
    assert (queue["durable"], queue["auto_delete"], queue["exclusive"]) == (True, False, False)
    assert queue["arguments"] == {}
    assert queue.get("type", "classic") == "classic"

    received = drain(vhost_url, "sms", len(published))
    assert [body for _, _, body in received] == [message.body for message in published]
    for (method, properties, body), message, spec in zip(received, published, jobs, strict=True):
        assert (method.exchange, method.routing_key) == ("", "sms")
        assert properties.content_type == "application/json"
        assert properties.delivery_mode == 2
        assert properties.correlation_id == message.id
        assert properties.headers == {"laravel": {"attempts": spec.get("attempts", 0)}}
        # Nothing else: the driver sets no message_id, type, timestamp or priority.
        unset = ("message_id", "type", "timestamp", "priority", "expiration", "reply_to")
        assert all(getattr(properties, name) is None for name in unset)
        if message.job_class is not None:
            assert json.loads(body)["id"] == message.id
            job = parse_message(body, properties.headers, app_keys=[parse_app_key(app_key)])
            assert (str(job.uuid), job.command_name) == (message.uuid, message.job_class)
            assert job.laravel_attempts == spec.get("attempts", 0)
    raw_properties = received[-1][1]
    assert raw_properties.correlation_id is None  # no JSON id to take it from


def test_an_existing_queue_is_used_as_it_is(services: ServiceUrls, vhost_url: str) -> None:
    # The bridge (or an operator) may have declared the queue first, with other arguments:
    # the driver checks with a passive declare and never redeclares it.
    connection = pika.BlockingConnection(pika.URLParameters(vhost_url))
    try:
        connection.channel().queue_declare(
            "notifications-high", durable=True, arguments={"x-queue-type": "quorum"}
        )
    finally:
        connection.close()

    published: list[LaravelMessage] = laravel_messages(
        [{"class": "App\\Jobs\\SendNotificationJob", "args": [{"user_id": 1, "title": "T"}]}],
        queue="notifications-high",
        amqp_url=vhost_url,
    )

    assert management_queue(services, vhost_url, "notifications-high")["type"] == "quorum"
    (received,) = drain(vhost_url, "notifications-high", 1)
    assert received[2] == published[0].body
