"""Postgres: a pool that waits for the server, and schema migrations at start-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from importlib import resources

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

log = logging.getLogger(__name__)

# Every schema a process may touch. Each process brings all of them up to date, so the
# gateway can take synchronous writes (critical notifications, payments) before any
# worker has started; only a domain's own code reads its schema.
SCHEMAS: tuple[str, ...] = ("runtime", "gateway", "sms", "payments", "tournaments", "notifications")

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


def migrate(database_url: str, schemas: Sequence[str] = SCHEMAS) -> None:
    """Bring `schemas` to their latest revision, one process at a time."""
    engine = create_engine(_sqlalchemy_url(database_url), poolclass=None)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                for schema in schemas:
                    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                    connection.commit()
                    config = Config()
                    location = resources.files("common.migrations") / schema
                    config.set_main_option("script_location", str(location))
                    config.attributes["connection"] = connection
                    config.attributes["schema"] = schema
                    command.upgrade(config, "head")
                    connection.commit()
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK}
                )
                connection.commit()
    finally:
        engine.dispose()


async def migrate_when_ready(database_url: str, schemas: Sequence[str] = SCHEMAS) -> None:
    """Run `migrate` in a thread, retrying while Postgres is unreachable."""
    async for attempt in AsyncRetrying(
        wait=wait_exponential(multiplier=0.2, max=5),
        retry=retry_if_exception_type(Exception),
        before_sleep=lambda state: log.warning(
            "migration waiting for postgres",
            extra={"error": str(state.outcome and state.outcome.exception())},
        ),
    ):
        with attempt:
            await asyncio.to_thread(migrate, database_url, schemas)
