"""Exchanges, work queues, retry tiers and parked queues, as data, and the registry.

Each domain declares its exchange and queues with these types in its own package and
names that declaration under the `relay.topology` entry point group; the registry reads
them from there. Every process declares what it uses at start-up, and
`infra/rabbitmq/definitions.json` is generated from the same data (`make definitions`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

QueueType = Literal["quorum", "classic"]

# Tiers that RetryLater(delay) can park a job in without spending an attempt
# (throttles, circuit breakers). A delay is rounded up to the nearest tier.
WAIT_TIERS: tuple[float, ...] = (1.0, 5.0, 30.0, 300.0)


def format_delay(seconds: float) -> str:
    """`10.0` -> `10s`, `0.25` -> `0.25s`: the delay as it appears in a tier's name."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{text}s"


@dataclass(frozen=True)
class Exchange:
    name: str
    type: Literal["topic", "direct", "fanout"] = "topic"


def _queue_type_arguments(queue_type: QueueType, quorum_size: int) -> dict[str, Any]:
    arguments: dict[str, Any] = {"x-queue-type": queue_type}
    if queue_type == "quorum" and quorum_size:
        # How many nodes hold a new queue; its membership is fixed at creation.
        arguments["x-quorum-initial-group-size"] = quorum_size
    return arguments


@dataclass(frozen=True)
class RetryTier:
    """A queue that holds messages for `delay` seconds, then dead-letters them to `target`.

    The delay is part of the name, so a new delay is a new queue: changing
    JOB_RETRY_DELAYS never redeclares an existing queue with other arguments.
    """

    target: str
    delay: float

    @property
    def name(self) -> str:
        return f"{self.target}.retry.{format_delay(self.delay)}"

    def arguments(self, queue_type: QueueType, quorum_size: int = 0) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            **_queue_type_arguments(queue_type, quorum_size),
            "x-message-ttl": int(self.delay * 1000),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.target,
        }
        if queue_type == "quorum":
            # Without this a quorum queue dead-letters at most once: a message could be
            # dropped between the tier and the work queue (RabbitMQ >= 3.10).
            arguments["x-dead-letter-strategy"] = "at-least-once"
            arguments["x-overflow"] = "reject-publish"
        return arguments


@dataclass(frozen=True)
class Queue:
    """A durable work queue for one job kind; its name is also its routing key."""

    name: str
    exchange: str
    retry_delays: tuple[float, ...] | None = None  # None: JOB_RETRY_DELAYS
    max_attempts: int | None = None  # None: JOB_MAX_ATTEMPTS
    timeout: float | None = None  # None: JOB_TIMEOUT
    # What its jobs do, in a line (docs/queues.md is generated from it).
    description: str = field(default="", compare=False)

    @property
    def routing_key(self) -> str:
        return self.name

    def arguments(self, queue_type: QueueType, quorum_size: int = 0) -> dict[str, Any]:
        return _queue_type_arguments(queue_type, quorum_size)

    def tiers(self, default_delays: Sequence[float]) -> list[RetryTier]:
        delays = set(self.retry_delays or default_delays) | set(WAIT_TIERS)
        return [RetryTier(self.name, delay) for delay in sorted(delays)]

    @property
    def parked(self) -> ParkedQueue:
        return ParkedQueue(self.name)


@dataclass(frozen=True)
class ParkedQueue:
    """Where a message waits when even the failed-job store cannot take it.

    Nothing consumes it but the runtime's drain, which moves its messages into the
    failed-job store once the store answers again; there they are listed and retried.
    """

    target: str

    @property
    def name(self) -> str:
        return parked_name(self.target)

    def arguments(self, queue_type: QueueType, quorum_size: int = 0) -> dict[str, Any]:
        return _queue_type_arguments(queue_type, quorum_size)


PARKED_SUFFIX = ".parked"


def parked_name(queue: str) -> str:
    """`orders.create` -> `orders.create.parked`: the parked queue of a work queue."""
    return f"{queue}{PARKED_SUFFIX}"


@dataclass(frozen=True)
class Domain:
    exchange: Exchange
    queues: tuple[Queue, ...] = field(default=())
    # Which process consumes its queues (`python -m <worker>`), for docs/queues.md.
    worker: str = ""


def domain(name: str, **kinds: str) -> Domain:
    """A topic exchange `name` with one work queue `<name>.<kind>` per job kind, each
    given with what its jobs do (in declaration order)."""
    queues = tuple(Queue(f"{name}.{kind}", name, description=text) for kind, text in kinds.items())
    return Domain(Exchange(name), queues, worker=name)


# Live events for connected users (SSE). Each gateway replica binds its own exclusive,
# auto-deleted queue, so an event reaches whichever replica holds the user's stream.
EVENTS = Exchange("events")
# Queue control (pause, continue, terminate): every worker binds its own exclusive,
# auto-deleted queue to this fanout exchange, so one message reaches every replica.
CONTROL = Exchange("control", "fanout")

ENTRY_POINTS = "relay.topology"


@functools.cache
def registered_domains() -> tuple[Domain, ...]:
    """Every installed domain's declaration (the `relay.topology` entry points), by name."""
    domains: list[Domain] = []
    for entry in entry_points(group=ENTRY_POINTS):
        declared = entry.load()
        if not isinstance(declared, Domain):
            raise TypeError(f"entry point {entry.value} is not a common.topology.Domain")
        domains.append(declared)
    return tuple(sorted(domains, key=lambda d: d.exchange.name))


def queue(name: str) -> Queue:
    """The registered work queue called `name`; KeyError names the known ones."""
    for candidate in all_queues():
        if candidate.name == name:
            return candidate
    known = ", ".join(q.name for q in all_queues())
    raise KeyError(f"unknown queue {name!r}; known queues: {known}")


def all_queues() -> list[Queue]:
    """The work queues of every registered domain."""
    return [q for d in registered_domains() for q in d.queues]


def exchange_of(q: Queue) -> Exchange:
    for registered in registered_domains():
        if registered.exchange.name == q.exchange:
            return registered.exchange
    return Exchange(q.exchange)


def definitions(
    queues: Iterable[Queue],
    default_delays: Sequence[float],
    queue_type: QueueType = "quorum",
    vhost: str = "/",
) -> dict[str, Any]:
    """RabbitMQ definitions (the management API's import format) for `queues`."""
    queue_list = list(queues)
    exchanges = {exchange_of(q) for q in queue_list} | {EVENTS, CONTROL}
    defs: dict[str, Any] = {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": ex.name,
                "vhost": vhost,
                "type": ex.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for ex in sorted(exchanges, key=lambda e: e.name)
        ],
        "queues": [],
        "bindings": [],
    }
    for q in queue_list:
        defs["queues"].append(_queue_def(q.name, q.arguments(queue_type), vhost))
        for tier in q.tiers(default_delays):
            defs["queues"].append(_queue_def(tier.name, tier.arguments(queue_type), vhost))
        defs["queues"].append(_queue_def(q.parked.name, q.parked.arguments(queue_type), vhost))
        defs["bindings"].append(
            {
                "source": q.exchange,
                "vhost": vhost,
                "destination": q.name,
                "destination_type": "queue",
                "routing_key": q.routing_key,
                "arguments": {},
            }
        )
    return defs


def _queue_def(name: str, arguments: dict[str, Any], vhost: str) -> dict[str, Any]:
    return {
        "name": name,
        "vhost": vhost,
        "durable": True,
        "auto_delete": False,
        "arguments": arguments,
    }


def render_definitions() -> str:
    """The checked-in `infra/rabbitmq/definitions.json`, from the default settings."""
    import json

    from .settings import RuntimeSettings

    fields = RuntimeSettings.model_fields
    delays = fields["job_retry_delays"].default
    queue_type = fields["rabbitmq_queue_type"].default
    return json.dumps(definitions(all_queues(), delays, queue_type), indent=2) + "\n"


if __name__ == "__main__":
    # Through the package, not this `__main__` copy: the domains' entry points build their
    # declarations with common.topology's classes.
    from .topology import render_definitions as render

    print(render(), end="")
