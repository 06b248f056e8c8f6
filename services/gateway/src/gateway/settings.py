"""Gateway settings: the runtime's, plus HTTP, auth and API limits."""

from __future__ import annotations

from typing import Annotated

from common.settings import RuntimeSettings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode


class GatewaySettings(RuntimeSettings):
    gateway_port: int = 8000
    gateway_host: str = "0.0.0.0"
    # Seconds between SIGTERM and the end of accepting requests, while /readyz answers 503
    # "draining": longer than a proxy needs to take the replica out of rotation (HAProxy
    # in docker-compose.yml: checks every second, out after two failures). 0 = stop at once
    # (Kubernetes: a preStop wait does it instead).
    gateway_drain_seconds: float = Field(default=0.0, ge=0, le=300)
    # Addresses (or networks, CIDR) of proxies whose X-Forwarded-For / -Proto are believed
    # (uvicorn's FORWARDED_ALLOW_IPS), comma separated; "*" trusts any.
    forwarded_allow_ips: str = "127.0.0.1"
    # `key=user_id` pairs for development; production keys live hashed in Postgres.
    api_keys: Annotated[dict[str, str], NoDecode] = {}
    admin_api_keys: Annotated[list[str], NoDecode] = []
    # Seconds a verified stored key is trusted without asking Postgres again: a revoked
    # or expired key is refused by every replica within this time.
    api_key_cache_seconds: float = Field(default=0.5, ge=0, le=5)
    # Unknown keys from one client address per minute before the answer is 429 (0 = off).
    auth_failures_per_minute: int = Field(default=30, ge=0)
    idempotency_ttl: int = 24 * 3600
    # The largest request body an Idempotency-Key request may send (bytes); 413 beyond.
    idempotency_max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # A per-key ceiling on every authenticated request (like Laravel's throttle:api); 0 = off.
    api_rate_per_minute: int = 6000
    readiness_timeout: float = 2.0
    publish_timeout: float = 3.0
    # Jaeger's web UI (e.g. http://localhost:16686): a job page links its trace there and
    # lists the trace's spans from Jaeger's query API. Empty: the spans recorded with the job.
    jaeger_ui_url: str = ""

    @field_validator("api_keys", mode="before")
    @classmethod
    def parse_pairs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            key, sep, user = item.partition("=")
            if not sep or not key or not user:
                raise ValueError(f"API_KEYS entry {item!r} is not key=user_id")
            pairs[key.strip()] = user.strip()
        return pairs

    @field_validator("admin_api_keys", mode="before")
    @classmethod
    def parse_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
