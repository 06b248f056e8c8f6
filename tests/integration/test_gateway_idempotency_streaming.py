"""Idempotency-Key on uploads: the body is hashed as it streams, spooled (memory, then
disk), replayed to the route in chunks, and refused with 413 past the limit before it is
buffered. Against the real Redis, the middleware in front of a small route."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
from common.web import Caller
from gateway.http.idempotency import IdempotencyMiddleware
from redis.asyncio import Redis
from starlette.types import Receive, Scope, Send

from tests.support import ServiceUrls

MiB = 1024 * 1024


class Upload:
    """An ASGI route that hashes what it receives chunk by chunk (it never joins them)."""

    def __init__(self) -> None:
        self.calls = 0
        self.chunks: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        digest = hashlib.sha256()
        while True:
            message = await receive()
            body = message.get("body", b"")
            self.chunks.append(len(body))
            digest.update(body)
            if not message.get("more_body"):
                break
        answer = f'{{"sha256": "{digest.hexdigest()}", "call": {self.calls}}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})


async def _authenticate(key: str, address: str) -> Caller | None:
    return Caller("u1") if key == "k" else None


def _app(upload: Upload, redis: Redis, prefix: str, limit: int) -> Any:
    middleware = IdempotencyMiddleware(upload)
    state = SimpleNamespace(
        authenticate=_authenticate,
        runtime=SimpleNamespace(
            redis=redis,
            settings=SimpleNamespace(redis_key_prefix=prefix, idempotency_ttl=60),
        ),
        settings=SimpleNamespace(idempotency_max_body_bytes=limit, idempotency_ttl=60),
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = SimpleNamespace(state=state)
        await middleware(scope, receive, send)

    return app


async def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_large_upload_is_streamed_to_the_route_in_chunks_and_replayed(
    services: ServiceUrls, redis_prefix: str
) -> None:
    redis = Redis.from_url(services.redis)
    upload = Upload()
    body = bytes(range(256)) * (8 * MiB // 256)
    headers = {"Idempotency-Key": "upload-1", "Authorization": "Bearer k"}
    try:
        async with await _client(_app(upload, redis, redis_prefix, 16 * MiB)) as client:
            tracemalloc.start()
            first = await client.post("/v1/images", content=body, headers=headers)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            again = await client.post("/v1/images", content=body, headers=headers)
            other = await client.post("/v1/images", content=body[:-1], headers=headers)
    finally:
        await redis.aclose()
    assert first.status_code == 202
    assert first.json() == {"sha256": hashlib.sha256(body).hexdigest(), "call": 1}
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422  # same key, another body
    assert upload.calls == 1
    assert len(upload.chunks) >= 8 * MiB // (64 * 1024) and max(upload.chunks) <= 64 * 1024
    # The 8 MiB body was never held whole by the middleware: past 1 MiB it is on disk.
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_upload_over_the_limit_is_413_before_the_route_sees_it(
    services: ServiceUrls, redis_prefix: str
) -> None:
    redis = Redis.from_url(services.redis)
    upload = Upload()
    sent: list[int] = []
    auth = {"Authorization": "Bearer k"}

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1000

    try:
        async with await _client(_app(upload, redis, redis_prefix, 10_000)) as client:
            declared = await client.post(
                "/v1/images", content=b"x" * 20_000, headers={**auth, "Idempotency-Key": "big-1"}
            )
            streamed = await client.post(
                "/v1/images", content=chunked(), headers={**auth, "Idempotency-Key": "big-2"}
            )
            within = await client.post(
                "/v1/images", content=b"x" * 10_000, headers={**auth, "Idempotency-Key": "ok-1"}
            )
    finally:
        await redis.aclose()
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert "IDEMPOTENCY_MAX_BODY_BYTES" in refused.json()["detail"]
    assert len(sent) <= 11  # stopped reading just past the limit
    assert within.status_code == 202 and upload.calls == 1
