"""The gateway's own dependencies: its settings, and the admin acting through the ops API.
Callers, runtime and stores come from common.web."""

from __future__ import annotations

from typing import Annotated

from common.web import AdminUser, client_address
from fastapi import Depends, Request

from .admin.actor import Actor
from .settings import GatewaySettings


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


Settings = Annotated[GatewaySettings, Depends(get_settings)]


async def admin_actor(admin: AdminUser, request: Request) -> Actor:
    """The admin key's user, from the client's address, as the audit trail records it."""
    return Actor(admin.id, client_address(request), admin.key_id)


# An admin action through the ops API: 401 / 403 unless the key is an admin key.
AdminActor = Annotated[Actor, Depends(admin_actor)]
