"""`relay --compose` and the warning: the compose stack's settings as the host reaches them."""

from __future__ import annotations

from gateway.cli.stack import Stack, differences, host_settings

CONTAINER = {
    "DATABASE_URL": "postgresql://postgres:postgres@postgres:5432/relay",
    "RABBITMQ_URL": "amqp://guest:guest@rabbitmq:5672/",
    "REDIS_URL": "redis://redis:6379/0",
}
PUBLISHED = {
    ("postgres", 5432): "127.0.0.1:15432",
    ("rabbitmq", 5672): "127.0.0.1:15672",
    ("rabbitmq", 15672): "127.0.0.1:25672",
    ("redis", 6379): "127.0.0.1:16379",
}


def published(service: str, port: int) -> str:
    return PUBLISHED.get((service, port), "")


def test_the_stack_settings_point_at_the_published_ports_with_the_same_database() -> None:
    settings = host_settings(CONTAINER, published)
    assert settings == {
        "DATABASE_URL": "postgresql://postgres:postgres@127.0.0.1:15432/relay",
        "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:15672/",
        "REDIS_URL": "redis://127.0.0.1:16379/0",
        "REDIS_KEY_PREFIX": "relay:",
        "RABBITMQ_MANAGEMENT_URL": "http://guest:guest@127.0.0.1:25672",
    }


def test_the_host_defaults_differ_from_a_stack_in_database_and_ports() -> None:
    stack = Stack(host_settings(CONTAINER, published))
    defaults = {
        "DATABASE_URL": "postgresql://postgres:postgres@localhost:5432/postgres",
        "RABBITMQ_URL": "amqp://guest:guest@localhost:5672/",
        "REDIS_URL": "redis://localhost:6379/0",
        "REDIS_KEY_PREFIX": "relay:",
    }
    assert differences(defaults, stack) == ["DATABASE_URL", "RABBITMQ_URL", "REDIS_URL"]
    same = {**stack.settings, "DATABASE_URL": "postgresql://other:pw@localhost:15432/relay"}
    assert differences(same, stack) == [], "other credentials, same server and database"
