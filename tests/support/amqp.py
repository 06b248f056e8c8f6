"""Questions asked of RabbitMQ over AMQP, where the management API would answer late."""

from __future__ import annotations

import pika

from .polling import eventually


def wait_consuming(amqp_url: str, queue: str, consumers: int = 1, timeout: float = 60) -> None:
    """Until `queue` has at least `consumers` consumers, as the broker counts them now."""
    with ConsumerCounter(amqp_url) as counter:
        eventually(lambda: counter.count(queue) >= consumers, timeout=timeout, interval=0.1)


class ConsumerCounter:
    """Consumer counts asked over AMQP (a passive declare) on one connection, not from the
    management API, whose figures are refreshed only every `collect_statistics_interval`
    (5 s by default)."""

    def __init__(self, amqp_url: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.connection.channel()

    def count(self, queue: str) -> int:
        if self.channel.is_closed:
            self.channel = self.connection.channel()
        try:
            return int(self.channel.queue_declare(queue, passive=True).method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0  # 404: the worker has not declared it yet

    def __enter__(self) -> ConsumerCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.connection.is_open:
            self.connection.close()
