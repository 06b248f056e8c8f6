"""Fixtures shared by every suite: real services, isolated per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.support import ServiceUrls, fresh_database, fresh_vhost, resolve_services

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    """Start containerised services once, before any xdist worker exists (they inherit
    the URLs through the environment), when the session runs on containers."""
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller already did it
    from tests.support.services import wants_containers

    if not wants_containers():
        return
    from tests.support.containers import start_test_services

    started = start_test_services()
    os.environ.update(started.urls)
    os.environ["RELAY_TEST_SERVICES"] = "local"  # workers use these URLs, start nothing
    config.add_cleanup(started.stop)


# The longest test files (measured, `--durations`), handed out first: xdist gives files to
# workers in collection order, and a long file started last would run on alone.
LONGEST_FIRST = (
    "e2e/test_gateway_fuzz.py",
    "e2e/test_gateway.py",
    "e2e/test_sms_campaigns.py",
    "e2e/test_dashboard_browser.py",
    "integration/test_runtime.py",
    "e2e/test_sms_campaign_uploads.py",
    "e2e/test_gateway_keys.py",
    "e2e/test_notifications_delivery.py",
    "integration/test_runtime_dead_messages.py",
    "e2e/test_ops_cli.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        for position, name in enumerate(LONGEST_FIRST):
            if path.endswith("tests/" + name):
                return position
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def services() -> ServiceUrls:
    found = resolve_services()
    if isinstance(found, str):
        if IN_CI:
            pytest.fail(f"CI needs RabbitMQ, Postgres and Redis: {found}", pytrace=False)
        pytest.skip(f"services unavailable: {found}")
    return found


@pytest.fixture
def vhost_url(services: ServiceUrls) -> Iterator[str]:
    with fresh_vhost(services) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(services: ServiceUrls) -> Iterator[str]:
    """One database for the session; tests that need a clean one use `fresh_database_url`."""
    with fresh_database(services) as url:
        yield url


@pytest.fixture
def fresh_database_url(services: ServiceUrls) -> Iterator[str]:
    with fresh_database(services) as url:
        yield url


@pytest.fixture
def redis_prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def env(
    services: ServiceUrls, vhost_url: str, fresh_database_url: str, redis_prefix: str
) -> dict[str, Any]:
    """Environment for a process under test: its own vhost, database and Redis prefix."""
    return {
        "RABBITMQ_URL": vhost_url,
        "RABBITMQ_MANAGEMENT_URL": services.management,
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": services.redis,
        "REDIS_KEY_PREFIX": redis_prefix,
        "LOG_FORMAT": "json",
    }


@pytest.fixture
async def runtime_factory(env: dict[str, Any]) -> AsyncIterator[Any]:
    """Start Runtimes on the test's services; all are closed at the end."""
    from common.runtime import Runtime
    from common.settings import RuntimeSettings

    started: list[Runtime] = []

    async def start(queues: Any = (), **overrides: Any) -> Runtime:
        values = {key.lower(): value for key, value in env.items()}
        values.update(overrides)
        runtime = await Runtime.start(RuntimeSettings(**values), "test", queues=queues)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        await runtime.close()


@pytest.fixture
def stack(env: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """Procfile processes for one test; start the ones it needs with `stack.start(name)`."""
    from tests.support import Stack

    running = Stack(env, name=request.node.name)
    try:
        yield running
    finally:
        running.stop()
