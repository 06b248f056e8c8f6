"""Bringing every schema up to date at start-up, one process at a time.

Most starts find every schema already at its head: that is one query, and Alembic (with
SQLAlchemy and psycopg, about a third of a second to import) is never loaded. A schema
at a revision this code does not know was migrated by a newer release: during a rolling
deploy the previous release keeps running (and may restart) beside it, so it is left as it
is (expand/contract keeps the two compatible, docs/upgrading.md) instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import asyncpg
from tenacity import retry_if_exception

from ..waiting import waiting_for
from .history import Schema, installed_schemas

log = logging.getLogger("common.db")

# One advisory lock for every migration run: processes starting together take turns.
_MIGRATION_LOCK = 7_243_001
# SQLSTATEs of a server that is there but not taking work yet (or any more): it is
# starting, or shutting down (https://www.postgresql.org/docs/current/errcodes-appendix.html),
# or the database is not created yet.
_SERVER_NOT_READY = frozenset({"57P01", "57P02", "57P03", "3D000"})


async def pending(database_url: str, schemas: Sequence[Schema]) -> list[Schema]:
    """The schemas whose recorded revision is not a head of their history (newer ones,
    unknown to this code, are left alone and logged)."""
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        behind = []
        for schema in schemas:
            try:
                rows = await connection.fetch(
                    f'SELECT version_num FROM "{schema.name}".alembic_version'
                )
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                behind.append(schema)
                continue
            recorded = {row["version_num"] for row in rows}
            if recorded == schema.heads:
                continue
            if recorded and not recorded <= schema.revisions:
                log.warning(
                    "schema migrated by a newer release; running against it as it is",
                    extra={"schema": schema.name, "revision": sorted(recorded)},
                )
                continue
            behind.append(schema)
        return behind
    finally:
        await connection.close()


async def bring_up_to_date(database_url: str, schemas: Sequence[Schema] | None = None) -> None:
    """Migrate the schemas that are behind (Alembic, in a thread); once, no retry."""
    schemas = installed_schemas() if schemas is None else schemas
    behind = await pending(database_url, schemas)
    if behind:
        await asyncio.to_thread(migrate, database_url, behind)


def migrate(database_url: str, schemas: Sequence[Schema] | None = None) -> None:
    """Bring `schemas` (default: every installed one) to their latest revision, one process
    at a time, with Alembic."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

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


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` means Postgres could not be reached (worth waiting for), as opposed
    to a statement the server refused (a broken migration: worth stopping for).

    libpq's connection failures (refused, timed out) carry no SQLSTATE; a connection lost
    mid-statement is class 08.
    """
    import psycopg
    from sqlalchemy.exc import DBAPIError

    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, psycopg.OperationalError):
            return cause.sqlstate is None or _not_ready(cause.sqlstate)
        if isinstance(cause, asyncpg.PostgresError):
            return _not_ready(cause.sqlstate)
        if isinstance(cause, psycopg.Error):
            return False
        if isinstance(cause, OSError | asyncpg.InterfaceError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _not_ready(state: str) -> bool:
    return state.startswith("08") or state in _SERVER_NOT_READY


async def migrate_when_ready(database_url: str, schemas: Sequence[Schema] | None = None) -> None:
    """Bring the schemas up to date, retrying while Postgres is unreachable.

    A migration that fails on a reachable server raises its own error at once: retrying
    the same SQL cannot help, and the process must stop and say why.
    """
    try:
        unreachable = retry_if_exception(database_unreachable)
        async for attempt in waiting_for("postgres (to migrate)", unreachable, log):
            with attempt:
                await bring_up_to_date(database_url, schemas)
    except Exception as error:
        log.error("migration failed; stopping", extra={"error": str(error)})
        raise


def _sqlalchemy_url(database_url: str) -> str:
    scheme, _, rest = database_url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else database_url
