"""The gateway's own dependency: its settings. Callers, runtime and stores come from common.web."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .settings import GatewaySettings


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


Settings = Annotated[GatewaySettings, Depends(get_settings)]
