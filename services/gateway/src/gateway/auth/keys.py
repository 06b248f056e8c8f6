"""API keys: development keys from the environment, production keys hashed in Postgres."""

from __future__ import annotations

import hashlib
import secrets
import time

import asyncpg
from common.ratelimit import Rate
from common.runtime import Runtime
from common.web import Authenticator, Caller

from ..settings import GatewaySettings


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "rk_" + secrets.token_urlsafe(32)


class KeyRing:
    """Resolves a presented key to a user; stored keys are cached for a minute."""

    _CACHE_SECONDS = 60.0

    def __init__(self, settings: GatewaySettings, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._admin = set(settings.admin_api_keys)
        self._env = {
            key: Caller(user, admin=key in self._admin) for key, user in settings.api_keys.items()
        }
        for key in self._admin:
            self._env.setdefault(key, Caller("admin", admin=True))
        self._cache: dict[str, tuple[float, Caller | None]] = {}

    async def resolve(self, key: str) -> Caller | None:
        if key in self._env:
            return self._env[key]
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        row = await self.pool.fetchrow(
            "SELECT user_id, admin FROM gateway.api_keys WHERE key_hash = $1", digest
        )
        user = Caller(row["user_id"], row["admin"]) if row else None
        self._cache[digest] = (time.monotonic() + self._CACHE_SECONDS, user)
        return user


async def create_key(pool: asyncpg.Pool, user_id: str, admin: bool) -> str:
    """Store a new key's hash and return the key (shown once, never stored in clear)."""
    key = new_key()
    await pool.execute(
        "INSERT INTO gateway.api_keys (key_hash, user_id, admin) VALUES ($1, $2, $3)",
        hash_key(key),
        user_id,
        admin,
    )
    return key


def authenticator(keys: KeyRing, settings: GatewaySettings, runtime: Runtime) -> Authenticator:
    """Resolve a key to its caller, then apply the per-caller API rate (429 beyond it)."""

    async def authenticate(key: str) -> Caller | None:
        caller = await keys.resolve(key)
        if caller is not None and settings.api_rate_per_minute:
            await runtime.limiter.check(f"api:{caller.id}", Rate(settings.api_rate_per_minute, 60))
        return caller

    return authenticate
