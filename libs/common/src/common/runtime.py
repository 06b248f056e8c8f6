"""The connections a process holds: Postgres, Redis, the publisher and the stores on them."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import retry_if_exception_type

from . import db
from .control.audit import AuditLog
from .dead_letters.failed_jobs import FailedJobStore
from .migrations import migrate_when_ready
from .outbox import Outbox
from .publisher import Publisher
from .ratelimit import RateLimiter
from .settings import RuntimeSettings
from .telemetry.error_reports import setup_error_reports
from .telemetry.logs import configure_logging
from .telemetry.tracing import setup_tracing
from .topology import Queue, all_queues
from .waiting import waiting_for

log = logging.getLogger(__name__)


async def connect_redis(url: str) -> Redis:
    """A Redis client, once the server answers PING (retrying until it does)."""
    client: Redis = Redis.from_url(url, health_check_interval=10, socket_connect_timeout=5)
    async for attempt in waiting_for("redis", retry_if_exception_type((RedisError, OSError)), log):
        with attempt:
            await client.ping()
    return client


@dataclass
class Runtime:
    settings: RuntimeSettings
    service: str
    pool: asyncpg.Pool
    redis: Redis
    publisher: Publisher
    limiter: RateLimiter
    failed_jobs: FailedJobStore

    @classmethod
    async def start(
        cls,
        settings: RuntimeSettings,
        service: str,
        *,
        queues: Iterable[Queue] | None = None,
        wait_for_broker: bool = True,
    ) -> Runtime:
        """Configure logs and traces, migrate, and connect, waiting for each service."""
        configure_logging(settings.log_level, settings.log_format)
        setup_tracing(settings.otel_service_name or service, settings.otel_traces_exporter)
        setup_error_reports(settings.sentry_dsn, service)
        await migrate_when_ready(settings.database_url)
        pool = await db.create_pool(settings.database_url)
        redis = await connect_redis(settings.redis_url)
        publisher = Publisher(settings, all_queues() if queues is None else queues)
        if wait_for_broker:
            await wait_for(publisher)
        return cls(
            settings=settings,
            service=service,
            pool=pool,
            redis=redis,
            publisher=publisher,
            limiter=RateLimiter(redis, settings.redis_key_prefix),
            failed_jobs=FailedJobStore(pool),
        )

    @functools.cached_property
    def outbox(self) -> Outbox:
        """Jobs staged with the rows that cause them, published after commit."""
        return Outbox(self.pool, self.publisher)

    @functools.cached_property
    def audit(self) -> AuditLog:
        """The audit trail of admin actions and log-ins."""
        return AuditLog(self.pool)

    async def close(self) -> None:
        await self.publisher.close()
        await self.redis.aclose()
        await self.pool.close()


async def wait_for(publisher: Publisher) -> None:
    """Connect the publisher, retrying with backoff until RabbitMQ answers."""
    from .errors import BrokerUnavailable

    async for attempt in waiting_for("rabbitmq", retry_if_exception_type(BrokerUnavailable), log):
        with attempt:
            await publisher.connect()
