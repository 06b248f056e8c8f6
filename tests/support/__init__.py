"""Test helpers shared by the integration and e2e suites."""

from .polling import eventually, eventually_async
from .services import ServiceUrls, fresh_database, fresh_vhost, resolve_services

__all__ = [
    "ServiceUrls",
    "eventually",
    "eventually_async",
    "fresh_database",
    "fresh_vhost",
    "resolve_services",
]
