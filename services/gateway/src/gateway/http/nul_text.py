"""JSON bodies whose text holds NUL (`\\u0000`) are invalid input: 422 before any route runs.

Postgres `text` and `jsonb` cannot store NUL, so such a string would fail wherever it is
written: in the gateway (caught as a 422 by http/errors.py) or, worse, in a worker after
the job was accepted with 202. The body is checked as the route reads it, chunk by chunk,
with no extra buffering: the route's read raises, and the error map answers 422.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NUL = b"\\u0000"
# Provider webhooks verify the exact bytes they were sent and answer their own 400 for an
# event they cannot store (a provider expects 4xx it understands, not our 422). The SMS
# provider callbacks ignore the fields providers add, so a NUL there is dropped with them;
# their own text fields refuse NUL by their schema (422).
_EXEMPT = ("/v1/webhooks/", "/v1/sms/status", "/v1/sms/inbound")


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
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT", "PATCH")
            or scope["path"].startswith(_EXEMPT)
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
