"""What a handler receives besides its payload: the runtime and this delivery's envelope."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from ..envelope import Envelope
from ..runtime import Runtime
from ..topology import Queue


class AlreadyProcessed(Exception):
    """This message's effect is already committed; ack it and move on."""


@dataclass
class JobContext:
    """What a handler may use: the runtime's connections and this delivery's envelope."""

    runtime: Runtime
    queue: Queue
    envelope: Envelope

    @functools.cached_property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose lines carry the job, message id and attempt (built on first use)."""
        return logging.LoggerAdapter(
            logging.getLogger(f"relay.{self.queue.name}"),
            {
                "job": self.envelope.job_type,
                "message_id": self.envelope.message_id,
                "attempt": self.envelope.attempt,
            },
        )

    @property
    def attempt(self) -> int:
        return self.envelope.attempt

    @property
    def message_id(self) -> str:
        return self.envelope.message_id

    @property
    def user_id(self) -> str | None:
        return self.envelope.user_id

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A DB transaction that also records this message as processed.

        The record is inserted first: a concurrent redelivery blocks on its key until
        this transaction ends, then sees it and skips (AlreadyProcessed), so the
        effect happens once. Rolled back with the effect if the handler fails.
        """
        async with self.runtime.pool.acquire() as connection, connection.transaction():
            inserted = await connection.fetchval(
                """
                INSERT INTO runtime.processed_messages (queue, message_id) VALUES ($1, $2)
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                self.queue.name,
                self.envelope.message_id,
            )
            if inserted is None:
                raise AlreadyProcessed(self.envelope.message_id)
            yield connection
