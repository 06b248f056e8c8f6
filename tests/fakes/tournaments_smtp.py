"""A real SMTP sink on localhost (aiosmtpd in a thread) that records what it accepts.

Recipients listed in `reject` get `550` at RCPT (a permanent refusal); the first
`defer[address]` attempts for an address get `451` at RCPT (a transient one).
"""

from __future__ import annotations

import email
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.stack import free_port


@dataclass
class Received:
    to: str
    subject: str
    email_id: str
    at: float


@dataclass
class SmtpSink:
    reject: set[str] = field(default_factory=set)
    defer: dict[str, int] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    # aiosmtpd handler hooks -----------------------------------------------------------

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        with self._lock:
            if address in self.reject:
                self.refused.append((address, 550))
                return "550 5.1.1 no such mailbox"
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                self.refused.append((address, 451))
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        message = email.message_from_bytes(raw)
        with self._lock:
            for to in envelope.rcpt_tos:
                self.received.append(
                    Received(
                        to=to,
                        subject=str(message["Subject"]),
                        email_id=str(message["X-Relay-Email-Id"]),
                        at=time.monotonic(),
                    )
                )
        return "250 Message accepted"

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.to == address]

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)
