"""JSON bodies whose text holds NUL (`\\u0000`) are invalid input: 422 before any route runs.

Postgres `text` and `jsonb` cannot store NUL, so such a string would fail wherever it is
written: in the gateway (caught as a 422 by http/errors.py) or, worse, in a worker after
the job was accepted with 202. The body is checked as the route reads it, chunk by chunk,
with no extra buffering: the route's read raises, and the error map answers 422.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NUL = b"\\u0000"


class NulInText(ValueError):
    """A JSON request body holds a NUL character."""


def holds_nul(chunk: bytes) -> bool:
    """Whether `chunk` has an escaped NUL that is not itself an escaped backslash + text."""
    start = chunk.find(_NUL)
    while start != -1:
        backslashes = 0
        while start - backslashes - 1 >= 0 and chunk[start - backslashes - 1] == 0x5C:
            backslashes += 1
        if backslashes % 2 == 0:
            return True
        start = chunk.find(_NUL, start + 1)
    return False


class RejectNulMiddleware:
    """Provider callbacks (`callbacks`, the prefixes domains declare) are left alone:
    webhooks verify the exact bytes they were sent and answer their own 400 for an event
    they cannot store (a provider expects 4xx it understands, not our 422); the SMS
    receipts and replies ignore the fields providers add, so a NUL there is dropped with
    them, and their own text fields refuse NUL by their schema (422)."""

    def __init__(self, app: ASGIApp, callbacks: tuple[str, ...]) -> None:
        self.app = app
        self.callbacks = callbacks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT", "PATCH")
            or scope["path"].startswith(self.callbacks)
        ):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if b"json" not in content_type.lower():
            await self.app(scope, receive, send)
            return
        tail = b""

        async def checked() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                # The last few bytes of the previous chunk: an escape split across two.
                if holds_nul(tail + body):
                    raise NulInText("text may not contain NUL (\\u0000) characters")
                tail = (tail + body)[-16:]
            return message

        await self.app(scope, checked, send)
