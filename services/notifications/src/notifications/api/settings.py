"""Gateway settings of the notifications and images domain (read once)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationsGatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Where uploaded originals go and variants are read from (shared with the worker).
    image_storage_dir: str = "./var/images"
    # Largest accepted upload, in bytes (10 MiB); larger → 413 without storing anything.
    image_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # Seconds between SSE heartbeat comments, so proxies keep idle streams open.
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Live events buffered per open stream; a stream that falls further behind reads
    # what it missed from Postgres instead.
    sse_buffer: int = Field(default=1000, ge=1)


@cache
def notifications_settings() -> NotificationsGatewaySettings:
    return NotificationsGatewaySettings()
