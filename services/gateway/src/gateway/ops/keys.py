"""API keys in the ops API (admin): create, list, revoke, rotate.

`POST /v1/ops/keys` answers 201 with the key: the only time it is shown (it is stored
hashed). Rotation answers 201 with the new key; the old one keeps working for `overlap`
seconds (24 h by default), so a deploy can switch over without a failed request.
"""

from __future__ import annotations

from typing import Annotated, Self

from common.request_body import RequestBody
from common.runtime import Runtime
from common.web import AdminUser, RuntimeDep, Scope
from fastapi import APIRouter, Body, Path, Request
from pydantic import ConfigDict, Field, model_validator

from ..auth.keys import DEFAULT_OVERLAP, CreatedKey, KeyRecord, KeyStore
from .admin_actions import record_admin_action, request_origin

router = APIRouter(prefix="/keys")

KeyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# Ten years: far enough for any real key, small enough for a timestamp.
_MAX_SECONDS = 10 * 366 * 86400


class NewKey(RequestBody):
    # The rule of the validator below, for the document: a user key (the default scope)
    # names its user.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"scope": {"const": "user"}}},
            "then": {"required": ["user"], "properties": {"user": {"type": "string"}}},
        }
    )
    scope: Scope = "user"
    user: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00]*$",
        description="The user a user key acts for (required for scope user)",
    )
    name: str = Field("", max_length=200, pattern=r"^[^\x00]*$")
    expires_in: int | None = Field(None, ge=1, le=_MAX_SECONDS, description="seconds")

    @model_validator(mode="after")
    def user_for_user_keys(self) -> Self:
        if self.scope == "user" and self.user is None:
            raise ValueError("user: a user key needs the user it acts for")
        return self


class Rotation(RequestBody):
    overlap: int = Field(
        DEFAULT_OVERLAP,
        ge=0,
        le=_MAX_SECONDS,
        description="seconds the old key keeps working (default 24 h)",
    )


def default_user(scope: Scope, user: str | None, name: str) -> str:
    """The id a service or admin key acts as when none is given."""
    return user or (f"{scope}:{name}" if name else scope)


def key_store(runtime: Runtime) -> KeyStore:
    return KeyStore(runtime.pool)


@router.post("", status_code=201)
async def create_key(
    body: NewKey, admin: AdminUser, runtime: RuntimeDep, request: Request
) -> CreatedKey:
    created = await key_store(runtime).create(
        body.scope,
        default_user(body.scope, body.user, body.name),
        body.name,
        body.expires_in,
        created_by=admin.id,
    )
    await record_admin_action(
        runtime,
        admin,
        "key.create",
        created.id,
        request_origin(request),
        scope=created.scope,
        user=created.user,
    )
    return created


@router.get("")
async def list_keys(admin: AdminUser, runtime: RuntimeDep) -> list[KeyRecord]:
    """Every key, newest first, revoked ones included; never the key itself."""
    return await key_store(runtime).list()


@router.delete("/{key_id}")
async def revoke_key(
    key_id: KeyId, admin: AdminUser, runtime: RuntimeDep, request: Request
) -> KeyRecord:
    """Revoke a key: every gateway replica refuses it within a second."""
    revoked = await key_store(runtime).revoke(key_id)
    await record_admin_action(runtime, admin, "key.revoke", key_id, request_origin(request))
    return revoked


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(
    key_id: KeyId,
    admin: AdminUser,
    runtime: RuntimeDep,
    request: Request,
    body: Annotated[Rotation | None, Body()] = None,
) -> CreatedKey:
    overlap = (body or Rotation()).overlap
    created = await key_store(runtime).rotate(key_id, overlap, created_by=admin.id)
    await record_admin_action(
        runtime,
        admin,
        "key.rotate",
        key_id,
        request_origin(request),
        new_key=created.id,
        overlap=overlap,
    )
    return created
