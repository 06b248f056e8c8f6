"""Dashboard settings (the gateway reads them once)."""

from __future__ import annotations

import ipaddress
import logging
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
    # HTTPS (or with `X-Forwarded-Proto: https` from FORWARDED_ALLOW_IPS) gets it either way.
    dashboard_cookie_secure: bool = False


@cache
def dashboard_settings() -> DashboardSettings:
    return DashboardSettings()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: reachable from wherever it resolves


def warn_if_cookie_travels_in_clear(host: str, log: logging.Logger) -> None:
    """At start-up: a dashboard reachable beyond this machine over plain HTTP would send
    its session cookie in clear, unless every request arrives through HTTPS."""
    if is_loopback(host) or dashboard_settings().dashboard_cookie_secure:
        return
    log.warning(
        f"dashboard cookie is not Secure over plain HTTP, and the gateway listens on {host}: "
        "a dashboard session could cross the network in clear. Serve it over HTTPS (a "
        "proxy in FORWARDED_ALLOW_IPS sending X-Forwarded-Proto: https) and set "
        "DASHBOARD_COOKIE_SECURE=true, or listen on 127.0.0.1 (GATEWAY_HOST)",
        extra={"gateway_host": host},
    )
