"""Dashboard settings (the gateway reads them once)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Seconds between live updates pushed to an open dashboard (Server-Sent Events).
    dashboard_refresh_seconds: float = Field(default=2.0, gt=0)
    # Log-in attempts per minute from one address (brute force on the admin key).
    dashboard_logins_per_minute: int = Field(default=10, ge=1)
    # Jaeger's web UI (e.g. http://localhost:16686): a job page links its trace there and
    # lists the trace's spans from Jaeger's query API. Empty: the spans recorded with the job.
    jaeger_ui_url: str = ""


@cache
def dashboard_settings() -> DashboardSettings:
    return DashboardSettings()
