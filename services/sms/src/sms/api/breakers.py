"""The sms providers' circuit breakers, as the `breakers` section of GET /v1/ops/queues."""

from __future__ import annotations

from typing import Any

from common.runtime import Runtime

from ..breaker import PROVIDERS, breaker_key, breaker_state


async def breaker_states(runtime: Runtime) -> dict[str, Any]:
    prefix = runtime.settings.redis_key_prefix
    async with runtime.redis.pipeline(transaction=False) as pipe:
        pipe.time()
        for provider in PROVIDERS:
            pipe.hgetall(breaker_key(prefix, provider))
        seconds_micros, *hashes = await pipe.execute()
    now_ms = int(seconds_micros[0]) * 1000 + int(seconds_micros[1]) // 1000
    return {
        provider: breaker_state({_text(key): _text(value) for key, value in fields.items()}, now_ms)
        for provider, fields in zip(PROVIDERS, hashes, strict=True)
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
