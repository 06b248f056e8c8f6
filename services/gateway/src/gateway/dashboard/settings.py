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
    # Mark the session cookie `Secure` (set it behind HTTPS); a request that arrived over
    # HTTPS gets it either way.
    dashboard_cookie_secure: bool = False


@cache
def dashboard_settings() -> DashboardSettings:
    return DashboardSettings()
