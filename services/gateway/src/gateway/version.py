"""The release version, read from the installed package's metadata: one place for
`relay --version` and the health answer."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "relay-gateway"


def release_version() -> str:
    """The gateway distribution's version (`unknown` when run from an uninstalled tree)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
