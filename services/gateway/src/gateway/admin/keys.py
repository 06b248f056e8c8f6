"""API keys (admin): create, list, revoke, rotate. `/v1/ops/keys...` and `relay keys ...`
both call these functions.

A new key is shown once (it is stored hashed). Rotation makes a key with the same scope,
user, name and lifetime; the old one keeps working for `overlap` seconds, so a deploy can
switch over without a failed request.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg
from common.web import Scope

from ..auth.keys import CreatedKey, KeyRecord, KeyStore
from .actor import Actor, AuditTrail, record

CREATE = "key.create"
REVOKE = "key.revoke"
ROTATE = "key.rotate"

USER_REQUIRED = "a user key needs the user it acts for"


class KeysAccess(Protocol):
    """What key management needs: Postgres (the keys) and the audit trail."""

    @property
    def pool(self) -> asyncpg.Pool: ...
    @property
    def audit(self) -> AuditTrail: ...


def default_user(scope: Scope, user: str | None, name: str) -> str:
    """The user a new key acts as: `user`; for a service or admin key without one, its
    scope and name. ValueError(USER_REQUIRED) for a user key that names no user."""
    if user:
        return user
    if scope == "user":
        raise ValueError(USER_REQUIRED)
    return f"{scope}:{name}" if name else scope


async def create(
    runtime: KeysAccess,
    actor: Actor,
    scope: Scope,
    user: str | None,
    name: str = "",
    expires_in: float | None = None,
) -> CreatedKey:
    """A new key (`expires_in` seconds, or never); the answer is the only time it is shown."""
    created = await KeyStore(runtime.pool).create(
        scope, default_user(scope, user, name), name, expires_in, created_by=actor.id
    )
    await record(runtime.audit, actor, CREATE, created.id, scope=created.scope, user=created.user)
    return created


async def list_keys(runtime: KeysAccess) -> list[KeyRecord]:
    """Every key, newest first, revoked ones included; never the key itself."""
    return await KeyStore(runtime.pool).list()


async def revoke(runtime: KeysAccess, actor: Actor, key_id: str) -> KeyRecord:
    """Revoke a key: every gateway replica refuses it within a second. NotFound if unknown."""
    revoked = await KeyStore(runtime.pool).revoke(key_id)
    await record(runtime.audit, actor, REVOKE, key_id)
    return revoked


async def rotate(runtime: KeysAccess, actor: Actor, key_id: str, overlap: float) -> CreatedKey:
    """A new key replacing `key_id`, which works `overlap` seconds more. NotFound if
    unknown, Conflict if revoked or expired."""
    created = await KeyStore(runtime.pool).rotate(key_id, overlap, created_by=actor.id)
    await record(runtime.audit, actor, ROTATE, key_id, new_key=created.id, overlap=overlap)
    return created
