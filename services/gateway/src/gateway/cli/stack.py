"""Which database, broker and Redis a running compose stack uses, seen from the host.

A `relay` command on the host reads DATABASE_URL, RABBITMQ_URL and REDIS_URL from its
environment (localhost defaults), while the compose stack's processes use their own (the
`relay` database, say). `relay --compose` takes the stack's instead: the gateway
container's settings, its service hostnames replaced by the ports compose published on
127.0.0.1. Without it, a command warns when a stack runs here and its settings differ, so
a key is not created in one database and then refused by a gateway reading another.
The stack is the compose project of the current directory (or COMPOSE_PROJECT_NAME,
COMPOSE_FILE), found with the `docker` CLI; no Docker, no stack, no warning.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

# The settings a command connects with, and the container port behind each URL's host.
CONNECTIONS = ("DATABASE_URL", "RABBITMQ_URL", "REDIS_URL", "REDIS_KEY_PREFIX")
_LOCAL = frozenset({"localhost", "127.0.0.1", "::1", ""})
# (compose service, container port) -> "host:port" where compose published it, or "".
Published = Callable[[str, int], str]


class StackNotFound(Exception):
    """No running compose stack here; the message says what was looked for."""


@dataclass(frozen=True)
class Stack:
    settings: dict[str, str]  # CONNECTIONS (+ RABBITMQ_MANAGEMENT_URL), as the host reaches them


def _docker(*args: str) -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise StackNotFound("no docker CLI on PATH")
    done = subprocess.run([docker, *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise StackNotFound(done.stderr.strip() or f"docker {args[0]} failed")
    return done.stdout.strip()


def running_stack() -> Stack:
    """The connections of the compose stack running here; StackNotFound if there is none."""
    ids = _docker("compose", "ps", "--quiet", "--status", "running", "gateway").split()
    if not ids:
        raise StackNotFound("no running `gateway` service in this directory's compose project")
    inspected = json.loads(_docker("inspect", ids[0]))[0]
    environment = dict(line.split("=", 1) for line in inspected["Config"]["Env"] if "=" in line)

    def published(service: str, port: int) -> str:
        answer = _docker("compose", "port", service, str(port))
        return answer.splitlines()[0] if answer else ""

    return Stack(host_settings(environment, published))


def host_settings(container: Mapping[str, str], published: Published) -> dict[str, str]:
    """The container's connection settings with each `service:port` replaced by where
    compose published that port on the host (`published(service, port)` -> `host:port`)."""
    settings: dict[str, str] = {}
    for name in ("DATABASE_URL", "RABBITMQ_URL", "REDIS_URL"):
        url = container.get(name)
        if url:
            settings[name] = _on_host(url, published)
    settings["REDIS_KEY_PREFIX"] = container.get("REDIS_KEY_PREFIX", "relay:")
    rabbitmq = urlsplit(container.get("RABBITMQ_URL", ""))
    if rabbitmq.hostname:
        management = published(rabbitmq.hostname, 15672)
        if management:
            user = rabbitmq.username or "guest"
            password = rabbitmq.password or "guest"
            settings["RABBITMQ_MANAGEMENT_URL"] = f"http://{user}:{password}@{management}"
    return settings


def differences(mine: Mapping[str, str], stack: Stack) -> list[str]:
    """The settings where `mine` reaches another server, database or vhost than the stack."""
    return [
        name
        for name in CONNECTIONS
        if name in stack.settings and not _same(mine.get(name, ""), stack.settings[name])
    ]


def _on_host(url: str, published: Published) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    address = published(parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme, 0))
    if not address:
        return url
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{address}" if credentials else address
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _same(a: str, b: str) -> bool:
    if "://" not in a or "://" not in b:
        return a == b
    left, right = urlsplit(a), urlsplit(b)
    return (
        left.scheme.split("+")[0] == right.scheme.split("+")[0]
        and _host(left.hostname) == _host(right.hostname)
        and (left.port or _DEFAULT_PORTS.get(left.scheme, 0))
        == (right.port or _DEFAULT_PORTS.get(right.scheme, 0))
        and (left.path.rstrip("/") or "/") == (right.path.rstrip("/") or "/")
    )


def _host(name: str | None) -> str:
    return "localhost" if (name or "") in _LOCAL else (name or "")


_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "amqp": 5672, "redis": 6379}
