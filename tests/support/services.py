"""Real RabbitMQ, Postgres and Redis for tests, each test isolated by vhost / database / prefix.

The URLs come from RABBITMQ_URL, DATABASE_URL and REDIS_URL (the local services, or
CI's). When the session runs on containers (`wants_containers`), tests/conftest.py starts
them once (tests/support/containers.py) and puts their URLs in those variables first.
Under CI=true a missing service is an error, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import psycopg

LOCAL = {
    "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/",
    "DATABASE_URL": "postgresql://postgres:postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


@dataclass(frozen=True)
class ServiceUrls:
    rabbitmq: str
    database: str
    redis: str
    management: str


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _management_url(amqp_url: str) -> str:
    explicit = os.environ.get("RABBITMQ_MANAGEMENT_URL")
    if explicit:
        return explicit.rstrip("/")
    parts = urlsplit(amqp_url)
    return f"http://{parts.username or 'guest'}:{parts.password or 'guest'}@{parts.hostname}:15672"


def resolve_services() -> ServiceUrls | str:
    """The services to test against, or the reason they are missing."""
    urls = {name: os.environ.get(name, default) for name, default in LOCAL.items()}
    missing = _unreachable(urls)
    if missing:
        return f"not reachable: {', '.join(missing)} ({', '.join(urls[m] for m in missing)})"
    management = _management_url(urls["RABBITMQ_URL"])
    try:
        httpx.get(f"{management}/api/overview", timeout=3).raise_for_status()
    except httpx.HTTPError as error:
        return (
            f"RabbitMQ management API not reachable at {management} ({error}); "
            "enable it: rabbitmq-plugins enable rabbitmq_management"
        )
    return ServiceUrls(urls["RABBITMQ_URL"], urls["DATABASE_URL"], urls["REDIS_URL"], management)


def _unreachable(urls: dict[str, str]) -> list[str]:
    return [
        name
        for name, port in (("RABBITMQ_URL", 5672), ("DATABASE_URL", 5432), ("REDIS_URL", 6379))
        if not _reachable(urls[name], port)
    ]


def wants_containers() -> bool:
    """Whether this session starts its services in containers.

    RELAY_TEST_SERVICES=containers: always (what `make test-containers` sets);
    `local`: never; `auto` (the default): only when none of the URL variables is set,
    the local defaults do not answer, and a Docker engine does.
    """
    from tests.support.containers import engine_answers

    mode = os.environ.get("RELAY_TEST_SERVICES", "auto")
    if mode not in ("auto", "containers", "local"):
        raise ValueError(f"RELAY_TEST_SERVICES must be auto, containers or local, not {mode!r}")
    if mode != "auto":
        return mode == "containers"
    if any(name in os.environ for name in LOCAL) or not _unreachable(dict(LOCAL)):
        return False
    return engine_answers()


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


@contextlib.contextmanager
def fresh_vhost(services: ServiceUrls) -> Iterator[str]:
    """A new RabbitMQ vhost (guest has every permission); yields its AMQP URL."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    api = f"{services.management}/api"
    with httpx.Client(timeout=60) as client:
        try:
            client.put(f"{api}/vhosts/{name}").raise_for_status()
            user = urlsplit(services.rabbitmq).username or "guest"
            client.put(
                f"{api}/permissions/{name}/{user}",
                json={"configure": ".*", "write": ".*", "read": ".*"},
            ).raise_for_status()
            yield _with_path(services.rabbitmq, "/" + quote(name, safe=""))
        finally:
            # Also after a failed or timed-out set-up: never leak vhosts on the shared broker.
            with contextlib.suppress(httpx.HTTPError):
                client.delete(f"{api}/vhosts/{name}")


@contextlib.contextmanager
def fresh_database(services: ServiceUrls) -> Iterator[str]:
    """A new, empty Postgres database, dropped afterwards; yields its URL."""
    name = f"relay_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.database, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_path(services.database, "/" + name)
    finally:
        with psycopg.connect(services.database, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
