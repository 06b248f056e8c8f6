"""`Idempotency-Key` on POSTs: the same key from the same caller replays the first answer.

A pure ASGI middleware, so every creating POST gets it without the route knowing. The
request body is hashed as it streams in and spooled (in memory up to 1 MiB, then in a
temporary file), then replayed to the route in 64 KiB chunks: an upload never has to fit
in memory. A body over IDEMPOTENCY_MAX_BODY_BYTES is refused with 413 before it is
buffered (at once when Content-Length says so). The
caller is identified by a hash of its Authorization header; the first 2xx answer is
kept for IDEMPOTENCY_TTL (24 h). A second request while the first is still running gets
409; the same key with a different body gets 422 (as in the IETF idempotency draft).
Retention (RETENTION_IDEMPOTENCY_KEYS_DAYS) deletes answers older than that, even when
IDEMPOTENCY_TTL keeps them longer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import time
from typing import IO, Any

from common.retention import CustomRule
from common.runtime import Runtime
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_PENDING_SECONDS = 60
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


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key")
        if not key:
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
            await self._once(scope, receive, send, key, headers, digest.hexdigest(), (spool, size))
        finally:
            spool.close()

    async def _once(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: bytes,
        headers: dict[bytes, bytes],
        fingerprint: str,
        body: tuple[IO[bytes], int],
    ) -> None:
        runtime = scope["app"].state.runtime
        redis = runtime.redis
        caller = hashlib.sha256(headers.get(b"authorization", b"")).hexdigest()[:32]
        redis_key = (
            f"{runtime.settings.redis_key_prefix}idem:{caller}:{key.decode(errors='replace')}"
        )

        pending = json.dumps({"state": "pending", "fingerprint": fingerprint})
        if not await redis.set(redis_key, pending, nx=True, ex=_PENDING_SECONDS):
            stored = await redis.get(redis_key)
            await self._replay(send, stored, fingerprint)
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
            await redis.delete(redis_key)
            raise
        if 200 <= status < 300:
            record = {
                "state": "done",
                "stored_at": time.time(),
                "fingerprint": fingerprint,
                "status": status,
                "headers": [[k.decode(), v.decode()] for k, v in kept_headers],
                "body": base64.b64encode(b"".join(response_chunks)).decode(),
            }
            await redis.set(redis_key, json.dumps(record), ex=runtime.settings.idempotency_ttl)
        else:
            # Only successes are remembered: a 4xx/5xx answer may be retried with the same key.
            await redis.delete(redis_key)

    async def _replay(self, send: Send, stored: bytes | None, fingerprint: str) -> None:
        if stored is None:
            await _answer(
                send, 409, {"detail": "a request with this Idempotency-Key just finished; retry"}
            )
            return
        record = json.loads(stored)
        if record["fingerprint"] != fingerprint:
            await _answer(
                send,
                422,
                {
                    "detail": "Idempotency-Key was already used with a different request; use a new key"
                },
            )
            return
        if record["state"] == "pending":
            await _answer(
                send,
                409,
                {"detail": "a request with this Idempotency-Key is still being processed"},
            )
            return
        body = base64.b64decode(record["body"])
        headers = [(k.encode(), v.encode()) for k, v in record["headers"]]
        headers += [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
        await send({"type": "http.response.start", "status": record["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def prune_idempotency_keys(runtime: Runtime, cutoff: float, batch: int) -> int:
    """Delete remembered answers stored before `cutoff` (epoch seconds), `batch` keys at a
    time (SCAN, never KEYS); returns how many."""
    redis = runtime.redis
    deleted = 0
    pattern = f"{runtime.settings.redis_key_prefix}idem:*"
    keys: list[Any] = []
    async for key in redis.scan_iter(match=pattern, count=batch):
        keys.append(key)
        if len(keys) >= batch:
            deleted += await _delete_older(redis, keys, cutoff)
            keys = []
    if keys:
        deleted += await _delete_older(redis, keys, cutoff)
    return deleted


async def _delete_older(redis: Any, keys: list[Any], cutoff: float) -> int:
    records = await redis.mget(keys)
    old = []
    for key, raw in zip(keys, records, strict=True):
        try:
            stored_at = json.loads(raw).get("stored_at") if raw else None
        except ValueError:
            continue
        if isinstance(stored_at, int | float) and stored_at < cutoff:
            old.append(key)
    return int(await redis.delete(*old)) if old else 0


# What retention prunes here (the `relay.retention` entry point of this package).
RETENTION = (
    CustomRule("idempotency_keys", "Idempotency-Key answers (Redis)", prune_idempotency_keys),
)
