"""API keys: development keys from the environment, production keys hashed in Postgres."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import asyncpg

from .settings import GatewaySettings


@dataclass(frozen=True)
class User:
    id: str
    admin: bool = False


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
            key: User(user, admin=key in self._admin) for key, user in settings.api_keys.items()
        }
        for key in self._admin:
            self._env.setdefault(key, User("admin", admin=True))
        self._cache: dict[str, tuple[float, User | None]] = {}

    async def resolve(self, key: str) -> User | None:
        if key in self._env:
            return self._env[key]
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        row = await self.pool.fetchrow(
            "SELECT user_id, admin FROM gateway.api_keys WHERE key_hash = $1", digest
        )
        user = User(row["user_id"], row["admin"]) if row else None
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
