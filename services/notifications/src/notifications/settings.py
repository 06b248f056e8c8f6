"""Settings of the notifications worker (env names as in CONTRACT.md and .env.example)."""

from __future__ import annotations

from functools import cache

from common.settings import RuntimeSettings
from pydantic import Field


class NotificationsSettings(RuntimeSettings):
    # Where originals and variants live (a directory; a named volume under docker compose).
    image_storage_dir: str = "./var/images"
    # Width x height above which an image is treated as a decompression bomb and fails
    # at once. 50 MP leaves room for every phone camera (12-48 MP).
    image_max_pixels: int = Field(default=50_000_000, ge=1)
    # Image jobs decoding at once in this process (CPU and memory bound); 0 = one per core.
    image_threads: int = Field(default=0, ge=0)


@cache
def settings() -> NotificationsSettings:
    return NotificationsSettings()
