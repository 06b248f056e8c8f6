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
# A finished delivery held back this long by an earlier one still running (a long job, a
# dead message waiting for the failed-job store) is acked on its own, so the prefetch
# window does not fill with finished deliveries.
HELD_BACK = 0.5
# Marks a delivery nacked on its own: it needs no ack, and holds back nothing.
_SETTLED = -1.0


class BatchedAcks:
    """Acknowledges one consumer's finished deliveries with one frame per short window.

    `basic.ack` with `multiple=True` settles every delivery up to a tag. Handlers finish
    out of order, so only the finished prefix of outstanding tags is acked; a delivery
    still running holds back the ones after it until it finishes. One frame per batch
    instead of one per message saves a syscall and broker work per job.
    """

    def __init__(self) -> None:
        self._channel: Any = None
        # delivery tag -> when it finished (None: running; _SETTLED: nacked), in tag order
        self._outstanding: dict[int, float | None] = {}
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
            self._outstanding[message.delivery_tag] = None

    def finished(self, message: AbstractIncomingMessage) -> None:
        """Ack `message` with the others finished within the window."""
        tag = message.delivery_tag
        if tag in self._outstanding:
            self._outstanding[tag] = asyncio.get_running_loop().time()
        self._schedule(ACK_WINDOW)

    def forget(self, message: AbstractIncomingMessage) -> None:
        """The delivery was nacked on its own; it no longer holds back the others."""
        if message.delivery_tag is not None:
            self._outstanding[message.delivery_tag] = _SETTLED

    def _schedule(self, delay: float) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(delay, self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._channel is None:
            return
        highest: int | None = None
        for tag, finished_at in self._outstanding.items():
            if finished_at is None:
                break
            highest = tag
        if highest is not None:
            while self._outstanding:
                tag = next(iter(self._outstanding))
                if tag > highest:
                    break
                del self._outstanding[tag]
            self._send(highest, multiple=True)
        self._ack_held_back()

    def _ack_held_back(self) -> None:
        """Ack on its own each finished delivery held back for HELD_BACK by a running one."""
        now = asyncio.get_running_loop().time()
        waiting = False
        for tag, finished_at in list(self._outstanding.items()):
            if finished_at is None or finished_at == _SETTLED:
                continue
            if now - finished_at >= HELD_BACK:
                del self._outstanding[tag]
                self._send(tag, multiple=False)
            else:
                waiting = True
        if waiting:
            self._schedule(HELD_BACK)

    def _send(self, tag: int, *, multiple: bool) -> None:
        sending = asyncio.ensure_future(self._channel.basic_ack(tag, multiple=multiple))
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
