"""Batched acks: one `basic.ack` with `multiple=True` per queue channel per short window."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

log = logging.getLogger("relay.jobs")

# Finished deliveries are acked together at most this long after the first of them
# finished: one frame (and one task) per window instead of one per job. A crash inside
# the window redelivers those jobs, which idempotent handlers absorb.
ACK_WINDOW = 0.01


class BatchedAcks:
    """Acknowledges one consumer's finished deliveries with one frame per short window.

    `basic.ack` with `multiple=True` settles every delivery up to a tag. Handlers finish
    out of order, so only the finished prefix of outstanding tags is acked; a delivery
    still running holds back the ones after it until it finishes. One frame per batch
    instead of one per message saves a syscall and broker work per job.
    """

    def __init__(self) -> None:
        self._channel: Any = None
        self._outstanding: dict[int, bool] = {}  # delivery tag -> finished; tag order
        self._flush_scheduled = False
        self._sending: set[asyncio.Future[None]] = set()

    def delivered(self, message: AbstractIncomingMessage) -> None:
        """Note `message` as outstanding; call before any await, so tags stay in order."""
        channel = message.channel
        if channel is not self._channel:
            # A new channel after a reconnect: the old tags are void (redelivered).
            self._channel = channel
            self._outstanding.clear()
        if message.delivery_tag is not None:
            self._outstanding[message.delivery_tag] = False

    def finished(self, message: AbstractIncomingMessage) -> None:
        """Ack `message` with the others finished within the window."""
        tag = message.delivery_tag
        if tag in self._outstanding:
            self._outstanding[tag] = True
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(ACK_WINDOW, self._flush)

    def forget(self, message: AbstractIncomingMessage) -> None:
        """The delivery was nacked on its own; it no longer holds back the others."""
        if message.delivery_tag is not None:
            self._outstanding[message.delivery_tag] = True

    def _flush(self) -> None:
        self._flush_scheduled = False
        highest: int | None = None
        for tag, finished in self._outstanding.items():
            if not finished:
                break
            highest = tag
        if highest is None or self._channel is None:
            return
        while self._outstanding:
            tag = next(iter(self._outstanding))
            if tag > highest:
                break
            del self._outstanding[tag]
        sending = asyncio.ensure_future(self._channel.basic_ack(highest, multiple=True))
        self._sending.add(sending)
        sending.add_done_callback(self._sent)

    def _sent(self, sending: asyncio.Future[None]) -> None:
        self._sending.discard(sending)
        if not sending.cancelled() and sending.exception() is not None:
            # The channel closed: the broker redelivers those messages; handlers are
            # idempotent, so that costs time, not correctness.
            log.warning("ack not delivered", extra={"error": repr(sending.exception())})

    async def drain(self) -> None:
        """Send the pending ack now and wait for every ack in flight."""
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
