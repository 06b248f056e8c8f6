"""Where Idempotency-Key answers are kept: one Redis record per (user, method, path, key).

A record is `pending` while its first request runs (with the fingerprint of that request
and the scope of the key that sent it), then `done` with the answer to replay, for
IDEMPOTENCY_TTL. Retention (RETENTION_IDEMPOTENCY_KEYS_DAYS) deletes answers older than
that, even when IDEMPOTENCY_TTL keeps them longer.

Deploy step: EXPAND. The previous release keyed records on a hash of the Authorization
header (`idem:<sha256(header)[:32]>:<key>`). This release reads such a record when it has
none of its own (a retry that crosses the deploy replays instead of acting twice) and
writes each answer under both names, so a replica of the previous release still running
beside it replays it too. CONTRACT step, one release after every replica runs this one
(and IDEMPOTENCY_TTL later, when no old record is left): delete `legacy_key` and its two
uses below.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from common.retention import CustomRule
from common.runtime import Runtime
from common.web import Caller, Scope
from starlette.types import Scope as HttpScope

# A claim lives this long if its request dies without answering (then the key is free).
PENDING_SECONDS = 60


def record_key(prefix: str, user: str, method: str, path: str, key: bytes) -> str:
    """The record of `key` for this user and endpoint (hashed: user ids and keys may hold
    any character, including the separators a plain join would need)."""
    identity = json.dumps([user, method, path, key.decode("latin-1")])
    return f"{prefix}idem:u:{hashlib.sha256(identity.encode()).hexdigest()[:40]}"


def legacy_key(prefix: str, authorization: bytes, key: bytes) -> str:
    """The name the previous release gave the record (expand step: see the module doc)."""
    caller = hashlib.sha256(authorization).hexdigest()[:32]
    return f"{prefix}idem:{caller}:{key.decode(errors='replace')}"


class Records:
    """The records of one request: claim, look up, keep the answer or let the key go."""

    def __init__(
        self, runtime: Runtime, ttl: int, caller: Caller, request: HttpScope, key: bytes
    ) -> None:
        prefix = runtime.settings.redis_key_prefix
        self.redis = runtime.redis
        self.ttl = ttl
        self.scope: Scope = caller.scope
        self.key = record_key(prefix, caller.id, request["method"], request["path"], key)
        auth = dict(request["headers"]).get(b"authorization", b"")
        self.legacy = legacy_key(prefix, auth, key)

    async def claim(self, fingerprint: str) -> dict[str, Any] | None:
        """Mark the key pending for this request; None when it was free, else the record
        already there (pending or done; `{}` when it vanished in between)."""
        pending = json.dumps({"state": "pending", "fingerprint": fingerprint, "scope": self.scope})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.key, pending, nx=True, ex=PENDING_SECONDS)
            pipe.get(self.key)
            pipe.get(self.legacy)
            claimed, stored, legacy = await pipe.execute()
        if not claimed:
            return json.loads(stored) if stored else {}
        earlier: dict[str, Any] = json.loads(legacy) if legacy else {}
        # The old name holds no path, so only the same request (fingerprint: path, query,
        # body) is the one the previous release answered; its record stands (the same
        # header, so the same key and scope) and this claim is let go.
        if earlier.get("fingerprint") == fingerprint:
            await self.redis.delete(self.key)
            return earlier
        return None

    async def keep(self, record: dict[str, Any]) -> None:
        """The first answer, replayed for IDEMPOTENCY_TTL under both names."""
        done = json.dumps({**record, "state": "done", "scope": self.scope})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.key, done, ex=self.ttl)
            pipe.set(self.legacy, done, ex=self.ttl)
            await pipe.execute()

    async def release(self) -> None:
        """Forget the claim: the request failed, so the client may retry with the key."""
        await self.redis.delete(self.key)


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
