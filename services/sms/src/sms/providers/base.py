"""What every provider is: one small Protocol, its answer and its two kinds of failure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingSms:
    id: uuid.UUID
    to: str
    sender: str
    body: str


@dataclass(frozen=True)
class Accepted:
    """The provider took the message; `provider_id` is its reference for receipts."""

    provider_id: str | None
    answer: str


class ProviderError(Exception):
    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


class TransientProviderError(ProviderError):
    """Worth retrying: 429, 5xx, timeout, connection trouble. Counts towards the breaker."""


class PermanentProviderError(ProviderError):
    """The provider refused this message for good (any other 4xx): fail it, never retry."""


class Provider(Protocol):
    name: str

    async def send(self, sms: OutgoingSms) -> Accepted:
        """Hand `sms` over; raises TransientProviderError or PermanentProviderError."""
        ...

    async def close(self) -> None: ...
