"""Request bodies bounded in size and in time, before any route (or the Idempotency-Key
spool) reads them.

A pure ASGI middleware that wraps `receive`: nothing is buffered here, the bytes are only
counted as the route asks for them. Which limit applies is decided by the path:

- a provider callback (the path prefixes domains declare as `callback_paths`: webhooks,
  receipts, replies) is bounded by WEBHOOK_MAX_BYTES, whatever its content type;
- a CSV or multipart upload to a path that streams it (`upload_paths`: campaigns, images)
  keeps the route's own limits (SMS_CAMPAIGN_MAX_RECIPIENTS, IMAGE_MAX_BYTES);
- any other body (JSON, forms, anything else) is bounded by MAX_BODY_BYTES.

Over its limit a body is answered 413: at once when Content-Length announces it (nothing
of it is read), else as soon as the bytes read pass the limit. The time spent waiting for
the body's bytes is bounded by BODY_READ_TIMEOUT (the sum over all of its reads, so a body
dripping in a byte at a time is cut as surely as a stalled one): 408. Both answers close
the connection, since the rest of the body is never read. The answers come before the key
is checked, so they name no setting, only the number.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import GatewaySettings

UPLOAD_TYPES = frozenset({"text/csv", "application/csv", "multipart/form-data"})
_DISCONNECT: Message = {"type": "http.disconnect"}

BODY_READ = Counter(
    "relay_http_request_body_read_bytes",
    "Bytes of request bodies the gateway read, by the limit that applied",
    ["limit"],
)
BODY_REFUSED = Counter(
    "relay_http_request_body_refused",
    "Request bodies refused: over their limit (413) or too slow to arrive (408)",
    ["limit", "status"],
)


@dataclass(frozen=True)
class BodyLimit:
    name: str  # max_body | webhook | upload: the label of the metrics
    max_bytes: int | None  # None: the route's own streamed limits
    read_bytes: Counter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The counter's child resolved once: `labels()` per request costs microseconds.
        object.__setattr__(self, "read_bytes", BODY_READ.labels(self.name))

    def refused(self, status: int) -> None:
        BODY_REFUSED.labels(self.name, str(status)).inc()


class BodyLimits:
    """Which limit a request's body gets, from its path and content type."""

    def __init__(
        self, settings: GatewaySettings, callbacks: tuple[str, ...], uploads: frozenset[str]
    ) -> None:
        self.callbacks = callbacks
        self.uploads = uploads
        self.webhook = BodyLimit("webhook", settings.webhook_max_bytes)
        self.json = BodyLimit("max_body", settings.max_body_bytes)
        self.upload = BodyLimit("upload", None)

    def limit_for(self, path: str, content_type: str) -> BodyLimit:
        if path.startswith(self.callbacks):
            return self.webhook
        if path in self.uploads and content_type.split(";")[0].strip().lower() in UPLOAD_TYPES:
            return self.upload
        return self.json


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes, this endpoint's limit"


class _Body:
    """One request's body as the app reads it: counted, timed, cut at its limit."""

    def __init__(self, receive: Receive, send: Send, limit: BodyLimit, timeout: float) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.timeout = timeout
        self.waited = 0.0
        self.read = 0
        self.complete = False  # the last chunk (or a disconnect) was received
        self.answered = False  # the app started its answer
        self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            return _DISCONNECT
        if self.complete:  # afterwards the app only waits for a disconnect: untimed
            return await self._receive()
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout - self.waited):
                message = await self._receive()
        except TimeoutError:
            await self._refuse(408, f"the request body took longer than {self.timeout:g} s")
            return _DISCONNECT
        finally:
            self.waited += time.monotonic() - started
        if message["type"] != "http.request":
            self.complete = True
            return message
        self.read += len(message.get("body", b""))
        if self.limit.max_bytes is not None and self.read > self.limit.max_bytes:
            await self._refuse(413, _too_large(self.limit.max_bytes))
            return _DISCONNECT
        self.complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the app's answer to a body it never got: ours went out already
        if message["type"] == "http.response.start":
            self.answered = True
        await self._send(message)

    async def _refuse(self, status: int, detail: str) -> None:
        self.refused = True
        self.limit.refused(status)
        if not self.answered:
            await _refuse(self._send, status, detail)


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        settings: GatewaySettings,
        callbacks: tuple[str, ...],
        uploads: frozenset[str],
    ) -> None:
        self.app = app
        self.limits = BodyLimits(settings, callbacks, uploads)
        self.timeout = settings.body_read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        content_type = b""
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and declared in (None, b"0"):  # no body to read (a GET, mostly)
            await self.app(scope, receive, send)
            return
        limit = self.limits.limit_for(scope["path"], content_type.decode("latin-1"))
        if (
            limit.max_bytes is not None
            and declared is not None
            and declared.isdigit()
            and int(declared) > limit.max_bytes
        ):
            limit.refused(413)
            await _refuse(send, 413, _too_large(limit.max_bytes))
            return
        body = _Body(receive, send, limit, self.timeout)
        try:
            await self.app(scope, body.receive, body.send)
        finally:
            if body.read:
                limit.read_bytes.inc(body.read)
