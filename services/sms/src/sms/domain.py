"""Pure rules of the sms worker: provider answers, campaign chunks, waiting in tiers, early
delivery receipts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .statuses import SmsStatus, can_move


class ProviderVerdict(StrEnum):
    sent = "sent"
    transient = "transient"
    permanent = "permanent"


def classify_http_status(status: int) -> ProviderVerdict:
    """2xx sent; 429 and 5xx transient; any other 4xx permanent (the contract's HTTP rules).

    Anything else (1xx, 3xx) is a provider or proxy misbehaving, not the message's
    fault: transient.
    """
    if 200 <= status < 300:
        return ProviderVerdict.sent
    if status == 429 or status >= 500:
        return ProviderVerdict.transient
    if 400 <= status < 500:
        return ProviderVerdict.permanent
    return ProviderVerdict.transient


@dataclass(frozen=True)
class Chunk:
    """Recipients `start <= seq < stop` of a campaign, released `delay` after the previous chunk."""

    index: int
    start: int
    stop: int
    is_last: bool

    @property
    def next_index(self) -> int:
        """The index of the chunk that follows (a span of chunks counts as all of them)."""
        return self.index + 1


@dataclass(frozen=True)
class ChunkSpan(Chunk):
    """Several consecutive chunks released by one job."""

    count: int = 1

    @property
    def next_index(self) -> int:
        return self.index + self.count


def chunk_size(total: int, configured: int, direct_below: int) -> int:
    """Small campaigns go out at once; from `direct_below` recipients on, in chunks."""
    return max(total, 1) if total < direct_below else configured


def chunk_at(index: int, total: int, size: int) -> Chunk:
    start = index * size
    stop = min(total, start + size)
    return Chunk(index, start, stop, stop >= total)


def chunks_per_release(size: int, most_messages: int) -> int:
    """How many chunks of `size` one release job may publish without exceeding `most_messages`
    recipients (always at least one)."""
    return max(1, most_messages // max(size, 1))


def chunk_at_span(index: int, count: int, total: int, size: int) -> Chunk:
    """Chunks `index .. index + count - 1` as one range (cut short by the campaign's end)."""
    start = index * size
    stop = min(total, start + count * size)
    return ChunkSpan(index, start, stop, stop >= total, count)


def pacing_burst(per_hour: int, burst: int) -> int:
    """How many campaign messages may leave at once before pacing spaces them out."""
    return burst if burst else max(1, per_hour // 60)


def apply_receipts(
    current: SmsStatus, receipts: Sequence[SmsStatus]
) -> tuple[SmsStatus, list[bool]]:
    """Apply delivery receipts in the order they arrived, each only if it moves `current`
    forward: the final status, and which receipts applied.

    Receipts that came before the provider id was recorded are applied this way once it
    is, so they end where they would have had they arrived after it.
    """
    applied: list[bool] = []
    for status in receipts:
        moves = can_move(current, status)
        applied.append(moves)
        if moves:
            current = status
    return current, applied
