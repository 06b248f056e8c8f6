"""Postgres: a pool that waits for the server, and schema migrations at start-up.

Each package that owns a schema names its Alembic folder under the `relay.migrations`
entry point group (the entry's name is the schema); the runtime's own schema comes first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

import asyncpg
import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from tenacity import AsyncRetrying, retry_if_exception, retry_if_exception_type, wait_exponential

log = logging.getLogger(__name__)

ENTRY_POINTS = "relay.migrations"


@dataclass(frozen=True)
class Schema:
    """A Postgres schema and the folder of its Alembic history (env.py, versions/)."""

    name: str
    location: Path


RUNTIME = Schema("runtime", Path(str(resources.files("common.migrations") / "runtime")))


def installed_schemas() -> tuple[Schema, ...]:
    """The runtime's schema, then every installed package's, by name.

    Each process brings all of them up to date, so the gateway can take synchronous writes
    (the critical path of a domain's router) before that domain's worker has started; only
    a domain's own code reads or writes its schema.
    """
    found = [
        Schema(entry.name, Path(str(resources.files(entry.value))))
        for entry in entry_points(group=ENTRY_POINTS)
    ]
    return (RUNTIME, *sorted(found, key=lambda schema: schema.name))


# One advisory lock for every migration run: processes starting together take turns.
_MIGRATION_LOCK = 7_243_001

_CONNECT_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError)


async def create_pool(database_url: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    """Connect, retrying with backoff until Postgres answers (never crash at start-up)."""
    async for attempt in AsyncRetrying(
        wait=wait_exponential(multiplier=0.2, max=5),
        retry=retry_if_exception_type(_CONNECT_ERRORS),
        before_sleep=lambda state: log.warning(
            "waiting for postgres",
            extra={"error": str(state.outcome and state.outcome.exception())},
        ),
    ):
        with attempt:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                database_url, min_size=min_size, max_size=max_size, timeout=5
            )
    return pool


def _sqlalchemy_url(database_url: str) -> str:
    scheme, _, rest = database_url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else database_url


def migrate(database_url: str, schemas: Sequence[Schema] | None = None) -> None:
    """Bring `schemas` (default: every installed one) to their latest revision, one process
    at a time."""
    schemas = installed_schemas() if schemas is None else schemas
    engine = create_engine(_sqlalchemy_url(database_url), poolclass=None)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                for schema in schemas:
                    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema.name}"'))
                    connection.commit()
                    config = Config()
                    config.set_main_option("script_location", str(schema.location))
                    config.attributes["connection"] = connection
                    config.attributes["schema"] = schema.name
                    command.upgrade(config, "head")
                    connection.commit()
            finally:
                # A failed migration leaves its transaction aborted, where the unlock would
                # fail too and hide the migration's own error.
                connection.rollback()
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK}
                )
                connection.commit()
    finally:
        engine.dispose()


# SQLSTATEs of a server that is there but not taking work yet (or any more): it is
# starting, or shutting down (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_SERVER_NOT_READY = frozenset({"57P01", "57P02", "57P03"})


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` means Postgres could not be reached (worth waiting for), as opposed
    to a statement the server refused (a broken migration: worth stopping for).

    libpq's connection failures (refused, timed out, the database not created yet) carry
    no SQLSTATE; a connection lost mid-statement is class 08.
    """
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, psycopg.OperationalError):
            state = cause.sqlstate
            return state is None or state.startswith("08") or state in _SERVER_NOT_READY
        if isinstance(cause, psycopg.Error):
            return False
        if isinstance(cause, OSError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


async def migrate_when_ready(database_url: str, schemas: Sequence[Schema] | None = None) -> None:
    """Run `migrate` in a thread, retrying while Postgres is unreachable.

    A migration that fails on a reachable server raises its own error at once: retrying
    the same SQL cannot help, and the process must stop and say why.
    """
    try:
        async for attempt in AsyncRetrying(
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception(database_unreachable),
            before_sleep=lambda state: log.warning(
                "migration waiting for postgres",
                extra={"error": str(state.outcome and state.outcome.exception())},
            ),
        ):
            with attempt:
                await asyncio.to_thread(migrate, database_url, schemas)
    except Exception as error:
        log.error("migration failed; stopping", extra={"error": str(error)})
        raise
