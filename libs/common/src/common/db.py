"""Postgres: a pool that waits for the server (schema migrations: common.migrations)."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from tenacity import retry_if_exception_type

from .waiting import waiting_for

log = logging.getLogger(__name__)


_CONNECT_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError)


async def create_pool(database_url: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    """Connect, retrying with backoff until Postgres answers (never crash at start-up)."""
    async for attempt in waiting_for("postgres", retry_if_exception_type(_CONNECT_ERRORS), log):
        with attempt:
            pool: asyncpg.Pool = await asyncpg.create_pool(
                database_url, min_size=min_size, max_size=max_size, timeout=5
            )
    return pool
