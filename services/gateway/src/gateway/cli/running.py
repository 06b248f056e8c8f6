"""What every `relay` command shares: the settings, logging, one asyncio run, how our
errors end a command, and the connections each kind of command opens, shaped like the
gateway's Runtime so the `gateway.admin` functions take either.

Exit codes: 1 for a refusal (not found, conflict, declined); 2 for bad input or an
unreachable RabbitMQ.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    import asyncpg
    from common.control import AuditLog
    from common.dead_letters import FailedJobStore
    from common.publisher import Publisher
    from redis.asyncio import Redis
    from rich.console import Console

    from ..admin.actor import AuditTrail
    from ..settings import GatewaySettings

T = TypeVar("T")
# Set by --compose for the rest of the command: the stack's settings are in use.
_STACK_CHOSEN = "RELAY_COMPOSE_STACK"


@functools.cache
def console() -> Console:
    from rich.console import Console

    return Console()


@functools.cache
def notes() -> Console:
    """Side remarks, on stderr: kept out of --json output and of a printed key."""
    from rich.console import Console

    return Console(stderr=True)


def fail(message: str, code: int) -> NoReturn:
    console().print(f"[red]{message}[/red]")
    raise typer.Exit(code)


def use_the_compose_stack() -> None:
    """`relay --compose`: the settings of the compose stack running here, for this command."""
    from .stack import StackNotFound, running_stack

    try:
        stack = running_stack()
    except StackNotFound as missing:
        fail(
            f"--compose: no compose stack found here ({missing}); start it with "
            "`docker compose up` in the repository, or drop --compose",
            2,
        )
    os.environ.update(stack.settings)
    os.environ[_STACK_CHOSEN] = "1"


def warn_if_not_the_stack() -> None:
    """When a compose stack runs here and this command's settings reach other servers or
    databases, say which, and how to reach the stack (RELAY_STACK_CHECK=0 skips this)."""
    if os.environ.get(_STACK_CHOSEN) or os.environ.get("RELAY_STACK_CHECK", "1") == "0":
        return
    from ..settings import GatewaySettings
    from .stack import StackNotFound, differences, running_stack

    try:
        stack = running_stack()
    except (StackNotFound, OSError, subprocess.SubprocessError, ValueError):
        return
    settings = GatewaySettings()
    mine = {
        "DATABASE_URL": settings.database_url,
        "RABBITMQ_URL": settings.broker_urls[0],
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
    }
    for name in differences(mine, stack):
        notes().print(
            f"relay: {name} is {_safe(mine[name])}, but the compose stack running here uses "
            f"{_safe(stack.settings[name])}; add --compose to talk to the stack"
        )


def run(work: Callable[[GatewaySettings], Coroutine[Any, Any, T]]) -> T:
    """Run one command's work with the settings from the environment."""
    from common.errors import BrokerUnavailable, Conflict, NotFound
    from common.telemetry.logs import configure_logging

    from ..settings import GatewaySettings

    warn_if_not_the_stack()
    settings = GatewaySettings()
    # Log lines (the audit line of an admin action, warnings) go to stderr.
    configure_logging(settings.log_level, settings.log_format)
    try:
        return asyncio.run(work(settings))
    except (NotFound, Conflict) as error:
        fail(str(error), 1)
    except BrokerUnavailable as error:
        fail(f"RabbitMQ is unreachable at RABBITMQ_URL: {error}", 2)


@dataclass(frozen=True)
class FailedJobsConnections:
    settings: GatewaySettings
    failed_jobs: FailedJobStore
    publisher: Publisher
    audit: AuditLog


@asynccontextmanager
async def failed_jobs_connections(
    settings: GatewaySettings, *, connect: bool = False
) -> AsyncIterator[FailedJobsConnections]:
    """Postgres (the failed jobs, the audit trail) and a publisher for every queue;
    `connect` connects it (and declares the topology) before any publish starts its timeout."""
    from common import db
    from common.control import AuditLog
    from common.dead_letters import FailedJobStore
    from common.migrations import migrate_when_ready
    from common.publisher import Publisher
    from common.topology import all_queues

    await migrate_when_ready(settings.database_url)
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=4)
    publisher = Publisher(settings, all_queues())
    try:
        if connect:
            await publisher.connect()
        yield FailedJobsConnections(settings, FailedJobStore(pool), publisher, AuditLog(pool))
    finally:
        await publisher.close()
        await pool.close()


@dataclass(frozen=True)
class PostgresConnections:
    pool: asyncpg.Pool
    audit: AuditLog


@asynccontextmanager
async def postgres(settings: GatewaySettings) -> AsyncIterator[PostgresConnections]:
    """Postgres alone (keys, the audit trail), migrated first."""
    from common import db
    from common.control import AuditLog
    from common.migrations import migrate_when_ready

    await migrate_when_ready(settings.database_url)
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        yield PostgresConnections(pool, AuditLog(pool))
    finally:
        await pool.close()


@dataclass(frozen=True)
class ControlConnections:
    settings: GatewaySettings
    redis: Redis
    publisher: Publisher
    audit: AuditTrail


@asynccontextmanager
async def control_connections(settings: GatewaySettings) -> AsyncIterator[ControlConnections]:
    """Redis and RabbitMQ (queue control, queue stats); Postgres only for the audit record."""
    from common.publisher import Publisher
    from common.runtime import connect_redis

    redis = await connect_redis(settings.redis_url)
    publisher = Publisher(settings)
    try:
        yield ControlConnections(settings, redis, publisher, AuditWhenReachable(settings))
    finally:
        await publisher.close()
        await redis.aclose()


class AuditWhenReachable:
    """The audit trail of a command that needs no Postgres (queue control): with Postgres
    down the action stands and its record is logged as not stored, rather than the
    command waiting for Postgres after the fact."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.database_url = settings.database_url

    async def record(
        self, actor: str, action: str, target: str, origin: str, **details: Any
    ) -> None:
        import asyncpg
        from common.control import AuditLog
        from common.migrations import bring_up_to_date

        try:
            await bring_up_to_date(self.database_url)
            pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=1, timeout=5)
        except Exception as error:
            logging.getLogger("relay.audit").error(
                "audit record not stored",
                extra={"actor": actor, "action": action, "target": target, "error": repr(error)},
            )
            return
        try:
            await AuditLog(pool).record(actor, action, target, origin, **details)
        finally:
            await pool.close()


def when(value: Any) -> str:
    """A timestamp as the tables show it (UTC), or `-`."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _safe(url: str) -> str:
    """`url` without its password, for a message on the terminal."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
