"""The release version of this process, from the installed packages' metadata (every package
takes it from VERSION at the repository root): `relay --version`, GET /healthz,
`relay_build_info` and the image labels all say the same."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "relay-common"


@cache
def release_version() -> str:
    """The release version (`unknown` when run from a tree that was never installed)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
