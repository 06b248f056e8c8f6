"""Test helpers shared by the integration and e2e suites."""

from .polling import eventually, eventually_async
from .proxy import TcpProxy, proxied
from .services import ServiceUrls, fresh_database, fresh_vhost, resolve_services
from .stack import ADMIN_KEY, OTHER_KEY, USER_KEY, Stack

__all__ = [
    "ADMIN_KEY",
    "OTHER_KEY",
    "USER_KEY",
    "ServiceUrls",
    "Stack",
    "TcpProxy",
    "eventually",
    "eventually_async",
    "fresh_database",
    "fresh_vhost",
    "proxied",
    "resolve_services",
]
