"""API keys in the ops API (admin): create, list, revoke, rotate (`gateway.admin.keys`).

`POST /v1/ops/keys` answers 201 with the key: the only time it is shown (it is stored
hashed). Rotation answers 201 with the new key; the old one keeps working for `overlap`
seconds (24 h by default), so a deploy can switch over without a failed request.
"""

from __future__ import annotations

from typing import Annotated, Self

from common.request_body import RequestBody
from common.web import AdminUser, RuntimeDep, Scope
from fastapi import APIRouter, Body, Path
from pydantic import ConfigDict, Field, model_validator

from ..admin import keys
from ..auth.keys import DEFAULT_OVERLAP, CreatedKey, KeyRecord
from ..deps import AdminActor

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
        try:
            keys.default_user(self.scope, self.user, self.name)
        except ValueError as missing:
            raise ValueError(f"user: {missing}") from missing
        return self


class Rotation(RequestBody):
    overlap: int = Field(
        DEFAULT_OVERLAP,
        ge=0,
        le=_MAX_SECONDS,
        description="seconds the old key keeps working (default 24 h)",
    )


@router.post("", status_code=201)
async def create_key(body: NewKey, actor: AdminActor, runtime: RuntimeDep) -> CreatedKey:
    return await keys.create(runtime, actor, body.scope, body.user, body.name, body.expires_in)


@router.get("")
async def list_keys(admin: AdminUser, runtime: RuntimeDep) -> list[KeyRecord]:
    """Every key, newest first, revoked ones included; never the key itself."""
    return await keys.list_keys(runtime)


@router.delete("/{key_id}")
async def revoke_key(key_id: KeyId, actor: AdminActor, runtime: RuntimeDep) -> KeyRecord:
    """Revoke a key: every gateway replica refuses it within a second."""
    return await keys.revoke(runtime, actor, key_id)


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(
    key_id: KeyId,
    actor: AdminActor,
    runtime: RuntimeDep,
    body: Annotated[Rotation | None, Body()] = None,
) -> CreatedKey:
    return await keys.rotate(runtime, actor, key_id, (body or Rotation()).overlap)
