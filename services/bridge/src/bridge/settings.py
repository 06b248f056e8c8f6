"""The bridge's settings (env names as in ../shared/CONTRACT.md, "Laravel bridge"), on top
of the runtime's (RABBITMQ_URL, DATABASE_URL, REDIS_URL, METRICS_PORT, ...)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from common.settings import RuntimeSettings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from .laravel_crypto import parse_app_key


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class BridgeSettings(RuntimeSettings):
    # The Laravel queues to consume, comma separated (e.g. `sms,bulk-sms,notifications-high`);
    # empty: the bridge idles and says so.
    laravel_queues: Annotated[list[str], NoDecode] = []
    # The Laravel app's broker (QUEUE_CONNECTION=rabbitmq); empty: the Relay broker.
    laravel_rabbitmq_url: str = ""
    # The app's APP_KEY (`base64:...`), for jobs that implement ShouldBeEncrypted. While a
    # key is rotated, the new and the old one, comma separated (tried in order).
    laravel_app_key: Annotated[list[str], NoDecode] = []
    # A TOML file adding or overriding job classes and property names (docs/laravel.md).
    laravel_job_map: str = ""
    # Where jobs of classes with no mapping are republished unchanged (for the PHP
    # workers); empty: they go to the failed-job store.
    laravel_unmapped_queue: str = ""
    # The Laravel disk that job file paths are relative to (ProcessImageJob's imagePath),
    # e.g. the app's storage/app/public, mounted read-only.
    laravel_storage_dir: str = ""
    # Namespaces of the out-of-the-box class names, comma separated, tried in order.
    laravel_job_namespace: Annotated[list[str], NoDecode] = ["App\\Jobs\\"]
    # The Relay user of a job whose class carries none (ProcessImageJob).
    laravel_default_user: str = Field(default="laravel", min_length=1, max_length=200)
    # Laravel messages handed over at once per queue (unacked until Relay's job is confirmed).
    laravel_prefetch: int = Field(default=100, ge=1, le=10_000)

    @field_validator("laravel_queues", "laravel_app_key", "laravel_job_namespace", mode="before")
    @classmethod
    def split_list(cls, value: object) -> object:
        return _split(value)

    @field_validator("laravel_job_namespace")
    @classmethod
    def namespaces_end_with_backslash(cls, value: list[str]) -> list[str]:
        return [name if name.endswith("\\") else f"{name}\\" for name in value]

    @field_validator("laravel_app_key")
    @classmethod
    def keys_parse(cls, value: list[str]) -> list[str]:
        for key in value:
            parse_app_key(key)  # LaravelKeyError (a ValueError) names what is wrong
        return value

    @cached_property
    def app_keys(self) -> list[bytes]:
        return [parse_app_key(key) for key in self.laravel_app_key]

    @cached_property
    def laravel_broker_urls(self) -> list[str]:
        """The Laravel app's broker: LARAVEL_RABBITMQ_URL, else the Relay broker's nodes."""
        return [self.laravel_rabbitmq_url] if self.laravel_rabbitmq_url else self.broker_urls

    @property
    def on_relay_broker(self) -> bool:
        return not self.laravel_rabbitmq_url or [self.laravel_rabbitmq_url] == self.broker_urls

    @cached_property
    def storage_root(self) -> Path | None:
        return Path(self.laravel_storage_dir) if self.laravel_storage_dir else None
