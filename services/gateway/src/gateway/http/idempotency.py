"""`Idempotency-Key` on POSTs: the same key from the same user replays the first answer.

A pure ASGI middleware, so every creating POST gets it without the route knowing. The key
that signs the request is resolved first (the same resolution the route's CurrentUser
uses, done once per request): without a usable key nothing is looked up or remembered and
the route answers its 401, so a revoked or expired key never gets a stored answer back.
Records belong to the user, whichever of its keys (or spellings of the header) is used,
and to the endpoint (idempotency_records.py); a key whose scope is narrower than the one
that made a record gets 403 instead of its answer (it might not be allowed that answer).

The request body is hashed as it streams in and spooled (in memory up to 1 MiB, then in a
temporary file), then replayed to the route in 64 KiB chunks: an upload never has to fit
in memory. A body over IDEMPOTENCY_MAX_BODY_BYTES is refused with 413 before it is
buffered (at once when Content-Length says so). The first 2xx answer is kept for
IDEMPOTENCY_TTL (24 h). A second request while the first is still running gets 409; the
same key with a different body gets 422 (as in the IETF idempotency draft).
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import time
from typing import IO, Any

from common.web import Caller, authenticated, bearer_key
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .idempotency_records import Records

_MAX_KEY_LENGTH = 255
_KEPT_HEADERS = {b"content-type", b"location", b"retry-after"}
# A request body up to this size stays in memory; a larger one is spooled to a temp file.
_SPOOL_IN_MEMORY = 1024 * 1024
_REPLAY_CHUNK = 64 * 1024


async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send, limit: int) -> None:
    await _answer(
        send,
        413,
        {"detail": f"the request body is larger than {limit} bytes (IDEMPOTENCY_MAX_BODY_BYTES)"},
    )


async def _caller(scope: Scope) -> Caller | None:
    """Who sends this request, if its key is good; None otherwise (the route says why).
    The header is read as the route reads it (the first Authorization header)."""
    request = Request(scope)
    key = bearer_key(request.headers.get("authorization"))
    if key is None:
        return None
    try:
        return await authenticated(request, key)
    except Exception:  # kept for the route, whose error map answers it (429, 503)
        return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key")
        caller = await _caller(scope) if key else None
        if not key or caller is None:
            await self.app(scope, receive, send)
            return
        if len(key) > _MAX_KEY_LENGTH:
            await _answer(
                send, 422, {"detail": f"Idempotency-Key: at most {_MAX_KEY_LENGTH} characters"}
            )
            return

        limit = scope["app"].state.settings.idempotency_max_body_bytes
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        # Hashed as it streams in; kept in memory while small, on disk beyond that, so an
        # upload never has to fit in memory to be replayed to the route.
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            digest = hashlib.sha256(
                scope["path"].encode() + b"?" + scope.get("query_string", b"") + b"\n"
            )
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await _too_large(send, limit)
                    return
                digest.update(chunk)
                if size > _SPOOL_IN_MEMORY:
                    spool.rollover()  # to disk before a big chunk is copied into memory
                spool.write(chunk)
                if not message.get("more_body"):
                    break
            spool.seek(0)
            app_state = scope["app"].state
            records = Records(
                app_state.runtime, app_state.settings.idempotency_ttl, caller, scope, key
            )
            await self._once(
                scope, receive, send, records, caller, digest.hexdigest(), (spool, size)
            )
        finally:
            spool.close()

    async def _once(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        records: Records,
        caller: Caller,
        fingerprint: str,
        body: tuple[IO[bytes], int],
    ) -> None:
        stored = await records.claim(fingerprint)
        if stored is not None:
            await _replay(send, stored, fingerprint, caller)
            return

        spool, size = body
        finished = False

        async def replay_body() -> Message:
            # The spooled body, chunk by chunk; then whatever the client sends (disconnect).
            nonlocal finished
            if finished:
                return await receive()
            chunk = spool.read(_REPLAY_CHUNK)
            more = spool.tell() < size
            finished = not more
            return {"type": "http.request", "body": chunk, "more_body": more}

        status = 500
        kept_headers: list[tuple[bytes, bytes]] = []
        response_chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, kept_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                kept_headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() in _KEPT_HEADERS
                ]
            elif message["type"] == "http.response.body":
                response_chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await records.release()
            raise
        if 200 <= status < 300:
            await records.keep(
                {
                    "stored_at": time.time(),
                    "fingerprint": fingerprint,
                    "status": status,
                    "headers": [[k.decode(), v.decode()] for k, v in kept_headers],
                    "body": base64.b64encode(b"".join(response_chunks)).decode(),
                }
            )
        else:
            # Only successes are remembered: a 4xx/5xx answer may be retried with the same key.
            await records.release()


async def _replay(send: Send, stored: dict[str, Any], fingerprint: str, caller: Caller) -> None:
    if not stored:
        await _answer(
            send, 409, {"detail": "a request with this Idempotency-Key just finished; retry"}
        )
        return
    # Scope first: whatever else it sends, a narrower key learns nothing of the record.
    made_by = stored.get("scope", caller.scope)
    if not caller.includes(made_by):
        await _answer(
            send,
            403,
            {
                "detail": f"this Idempotency-Key was used by a {made_by} key of this user; a "
                f"{caller.scope} key may not have its answer: use another Idempotency-Key"
            },
        )
        return
    if stored["fingerprint"] != fingerprint:
        await _answer(
            send,
            422,
            {"detail": "Idempotency-Key was already used with a different request; use a new key"},
        )
        return
    if stored["state"] == "pending":
        await _answer(
            send, 409, {"detail": "a request with this Idempotency-Key is still being processed"}
        )
        return
    body = base64.b64decode(stored["body"])
    headers = [(k.encode(), v.encode()) for k, v in stored["headers"]]
    headers += [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
    await send({"type": "http.response.start", "status": stored["status"], "headers": headers})
    await send({"type": "http.response.body", "body": body})
