"""RabbitMQ, Postgres and Redis in containers for a test session (testcontainers).

Used when the session is asked to (RELAY_TEST_SERVICES=containers, what `make
test-containers` sets), or when nothing is configured or listening locally and a Docker
engine answers. The images are the compose file's variables with the same defaults
(RABBITMQ_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE), so `make local-images` stand-ins work too.

Started once per session by the pytest process that owns it (the xdist controller, or
the only process), before any worker exists: the URLs are put in the environment that
the workers inherit, so three xdist workers share one set of containers rather than
starting three. Every test still gets its own vhost, database and Redis prefix.
Ryuk (testcontainers' reaper) is not used: its image may not be pullable here; instead
the containers carry a label, are stopped when the session ends, and
infra/test-containers.sh removes any that a killed run left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

IMAGES = {
    "RABBITMQ_IMAGE": "rabbitmq:4.1-management",
    "POSTGRES_IMAGE": "postgres:17",
    "REDIS_IMAGE": "redis:7.4",
}
LABEL = "relay-tests"
URL_VARS = ("RABBITMQ_URL", "DATABASE_URL", "REDIS_URL", "RABBITMQ_MANAGEMENT_URL")


def image(var: str) -> str:
    return os.environ.get(var) or IMAGES[var]


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


@dataclass
class TestServices:
    """The started containers and the URLs the tests use to reach them."""

    urls: dict[str, str] = field(default_factory=dict)
    containers: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for container in reversed(self.containers):
            try:
                container.stop()
            except Exception as error:  # a container already gone must not fail teardown
                print(f"test containers: could not stop {container}: {error!r}")
        self.containers.clear()


def start_test_services(timeout: float = 180) -> TestServices:
    """Start the three services and wait until each answers; their URLs by env var name."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.rabbitmq import RabbitMqContainer
    from testcontainers.community.redis import RedisContainer

    labels = {LABEL: "containers"}
    started = TestServices()
    try:
        rabbit = RabbitMqContainer(image("RABBITMQ_IMAGE"), labels=labels).with_exposed_ports(
            5672, 15672
        )
        postgres = PostgresContainer(
            image("POSTGRES_IMAGE"),
            username="postgres",
            password="postgres",
            dbname="postgres",
            driver=None,
            labels=labels,
        )
        redis = RedisContainer(image("REDIS_IMAGE"), labels=labels)
        for container in (rabbit, postgres, redis):
            container.start()
            started.containers.append(container)
        host = rabbit.get_container_host_ip()
        management = f"http://guest:guest@{host}:{rabbit.get_exposed_port(15672)}"
        _wait_for_management(management, timeout)
        started.urls = {
            "RABBITMQ_URL": f"amqp://guest:guest@{host}:{rabbit.get_exposed_port(5672)}/",
            "RABBITMQ_MANAGEMENT_URL": management,
            "DATABASE_URL": postgres.get_connection_url(),
            "REDIS_URL": (
                f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
            ),
        }
    except BaseException:
        started.stop()
        raise
    return started


def _wait_for_management(url: str, timeout: float) -> None:
    """The management API starts after AMQP answers (what testcontainers waits for)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/api/overview", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"RabbitMQ management API at {url} did not answer in {timeout}s")
        time.sleep(0.5)
