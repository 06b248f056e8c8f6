"""API keys: development keys from the environment, production keys hashed in Postgres.

A stored key is `rk_<id>_<secret>`: the id is what lists, the audit trail and logs show;
only the SHA-256 of the whole key is kept (the secret has 256 bits, so a plain hash is
enough; no salt or slow hash is needed for a random secret). A key has a scope
(`user`, `service`, `admin`), may expire, may be revoked, and may be rotated: the new
key works at once, the old one until the overlap ends (Stripe's "roll key").

Verified keys are cached in-process for API_KEY_CACHE_SECONDS (0.5 s by default), so a
revoked or expired key is refused by every replica within that time, with no
cross-replica messaging; a replica looks a busy key up at most twice a second.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta

import asyncpg
from common.errors import Conflict, LimitExceeded, NotFound
from common.ratelimit import Rate
from common.runtime import Runtime
from common.web import Authenticator, Caller, Scope
from pydantic import BaseModel

from ..settings import GatewaySettings

# Keys longer than this are not looked up (nobody's key; a bogus header).
_MAX_KEY_LENGTH = 500
# last_used_at is written at most once per this many seconds per key.
_LAST_USED_EVERY = 60.0
DEFAULT_OVERLAP = 24 * 3600


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key_id() -> str:
    return "k" + secrets.token_hex(6)


def new_key(key_id: str) -> str:
    return f"rk_{key_id}_{secrets.token_urlsafe(32)}"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """`30d`, `24h`, `15m`, `90s` or plain seconds, as seconds (ValueError otherwise)."""
    match = _DURATION.match(text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30d, 24h, 15m or 90s")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class KeyRecord(BaseModel):
    """A stored key as lists show it: never the key itself."""

    id: str
    scope: Scope
    user: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_from: str | None


class CreatedKey(KeyRecord):
    """A new key: the only answer that holds the key (it is stored hashed)."""

    key: str


_COLUMNS = (
    "id, scope, user_id AS user, name, created_at, expires_at, revoked_at, "
    "last_used_at, rotated_from"
)


class KeyStore:
    """`gateway.api_keys`: create, list, revoke, rotate, look up by hash."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(
        self,
        scope: Scope,
        user: str,
        name: str = "",
        expires_in: float | None = None,
        created_by: str = "",
        rotated_from: str | None = None,
        connection: asyncpg.Connection | None = None,
    ) -> CreatedKey:
        key_id = new_key_id()
        key = new_key(key_id)
        expires_at = (
            datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in is not None else None
        )
        row = await (connection or self.pool).fetchrow(
            f"""
            INSERT INTO gateway.api_keys
                (key_hash, id, scope, user_id, name, expires_at, created_by, rotated_from)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING {_COLUMNS}
            """,
            hash_key(key),
            key_id,
            scope,
            user,
            name,
            expires_at,
            created_by,
            rotated_from,
        )
        return CreatedKey(**dict(row), key=key)

    async def list(self, include_revoked: bool = True, limit: int = 1000) -> list[KeyRecord]:
        rows = await self.pool.fetch(
            f"""
            SELECT {_COLUMNS} FROM gateway.api_keys
            WHERE $1 OR revoked_at IS NULL
            ORDER BY created_at DESC LIMIT $2
            """,
            include_revoked,
            limit,
        )
        return [KeyRecord(**dict(row)) for row in rows]

    async def get(self, key_id: str) -> KeyRecord:
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM gateway.api_keys WHERE id = $1", key_id
        )
        if row is None:
            raise NotFound(f"no key {key_id!r}; `relay keys list` shows the ids")
        return KeyRecord(**dict(row))

    async def revoke(self, key_id: str) -> KeyRecord:
        """Revoke now (a second revoke keeps the first time)."""
        row = await self.pool.fetchrow(
            f"""
            UPDATE gateway.api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE id = $1 RETURNING {_COLUMNS}
            """,
            key_id,
        )
        if row is None:
            raise NotFound(f"no key {key_id!r}; `relay keys list` shows the ids")
        return KeyRecord(**dict(row))

    async def rotate(
        self, key_id: str, overlap: float = DEFAULT_OVERLAP, created_by: str = ""
    ) -> CreatedKey:
        """A new key with the same scope, user, name and lifetime; the old one keeps
        working for `overlap` seconds (or until it expires, if sooner)."""
        async with self.pool.acquire() as connection, connection.transaction():
            old = await connection.fetchrow(
                """
                SELECT scope, user_id, name, created_at, expires_at, revoked_at
                FROM gateway.api_keys WHERE id = $1 FOR UPDATE
                """,
                key_id,
            )
            if old is None:
                raise NotFound(f"no key {key_id!r}; `relay keys list` shows the ids")
            now = datetime.now(UTC)
            if old["revoked_at"] is not None or (
                old["expires_at"] is not None and old["expires_at"] <= now
            ):
                raise Conflict(f"key {key_id} is revoked or expired: create a new key instead")
            lifetime = (
                (old["expires_at"] - old["created_at"]).total_seconds()
                if old["expires_at"] is not None
                else None
            )
            await connection.execute(
                """
                UPDATE gateway.api_keys
                SET expires_at = LEAST(coalesce(expires_at, 'infinity'), $2)
                WHERE id = $1
                """,
                key_id,
                now + timedelta(seconds=overlap),
            )
            return await self.create(
                old["scope"],
                old["user_id"],
                old["name"],
                lifetime,
                created_by,
                rotated_from=key_id,
                connection=connection,
            )

    async def usable(self, digest: str) -> asyncpg.Record | None:
        """The key with this hash if it is neither revoked nor expired."""
        return await self.pool.fetchrow(
            """
            SELECT id, scope, user_id, expires_at, last_used_at FROM gateway.api_keys
            WHERE key_hash = $1 AND revoked_at IS NULL
              AND (expires_at IS NULL OR expires_at > now())
            """,
            digest,
        )

    async def active(self, key_id: str) -> bool:
        """Whether the key with this id is neither revoked nor expired."""
        found = await self.pool.fetchval(
            """
            SELECT true FROM gateway.api_keys
            WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            """,
            key_id,
        )
        return bool(found)

    async def touch(self, key_id: str) -> None:
        await self.pool.execute(
            "UPDATE gateway.api_keys SET last_used_at = now() WHERE id = $1", key_id
        )


class KeyRing:
    """Resolves a presented key to its caller: the environment's keys, then stored keys
    (cached for API_KEY_CACHE_SECONDS)."""

    def __init__(self, settings: GatewaySettings, pool: asyncpg.Pool) -> None:
        self.store = KeyStore(pool)
        self.cache_seconds = settings.api_key_cache_seconds
        admin = set(settings.admin_api_keys)
        self._env = {
            key: Caller(user, "admin" if key in admin else "user", "env")
            for key, user in settings.api_keys.items()
        }
        for key in admin:
            self._env.setdefault(key, Caller("admin", "admin", "env"))
        self._cache: dict[str, tuple[float, Caller | None]] = {}
        self._touched: dict[str, float] = {}

    async def resolve(self, key: str) -> Caller | None:
        if key in self._env:
            return self._env[key]
        if not key or len(key) > _MAX_KEY_LENGTH:
            return None
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        row = await self.store.usable(digest)
        caller = Caller(row["user_id"], row["scope"], row["id"]) if row else None
        until = now + self.cache_seconds
        if row is not None and row["expires_at"] is not None:
            # Never cached past its expiry.
            left = (row["expires_at"] - datetime.now(UTC)).total_seconds()
            until = min(until, now + max(0.0, left))
        if len(self._cache) > 10_000:
            self._cache = {d: entry for d, entry in self._cache.items() if entry[0] > now}
        self._cache[digest] = (until, caller)
        if row is not None and self._touched.get(row["id"], 0.0) < now - _LAST_USED_EVERY:
            self._touched[row["id"]] = now
            await self.store.touch(row["id"])
        return caller


def authenticator(keys: KeyRing, settings: GatewaySettings, runtime: Runtime) -> Authenticator:
    """Resolve a key to its caller, then apply the per-caller API rate (429 beyond it).

    Unknown keys count against their client address: past AUTH_FAILURES_PER_MINUTE the
    answer is 429 + Retry-After instead of 401. A good key is never counted, so it keeps
    working from an address someone else is guessing from.
    """
    failures = Rate(settings.auth_failures_per_minute or 1, 60)

    async def authenticate(key: str, address: str) -> Caller | None:
        caller = await keys.resolve(key)
        if caller is None:
            if settings.auth_failures_per_minute:
                wait = await runtime.limiter.try_acquire(f"bad-key:{address}", failures)
                if wait:
                    raise LimitExceeded(wait, "too many unknown API keys from this address")
            return None
        if settings.api_rate_per_minute:
            await runtime.limiter.check(f"api:{caller.id}", Rate(settings.api_rate_per_minute, 60))
        return caller

    return authenticate
