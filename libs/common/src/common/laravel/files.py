"""Files a Laravel job names by path (an upload it wants processed), read from the Laravel
app's storage directory (LARAVEL_STORAGE_DIR, shared with the app read-only) and nowhere
else: a path that leads outside it, through `..`, an absolute path or a symbolic link, is
refused like any other bad property."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import LaravelInputError


@dataclass(frozen=True)
class LaravelFile:
    """An opened file of the app's storage: its bytes from the start, and its size."""

    source: IO[bytes]
    size: int
    head: bytes  # its first bytes (the format's magic number)

    def close(self) -> None:
        self.source.close()


@dataclass(frozen=True)
class LaravelFiles:
    """The Laravel app's storage directory; None when the bridge was given none."""

    root: Path | None = None

    async def open(self, field: str, path: str, max_bytes: int) -> LaravelFile:
        """The file at `path` (relative to the root, or absolute inside it), at most
        `max_bytes` long; LaravelInputError naming `field` when it cannot be read."""
        return await asyncio.to_thread(self._open, field, path, max_bytes)

    def _open(self, field: str, path: str, max_bytes: int) -> LaravelFile:
        if self.root is None:
            raise LaravelInputError(field, "names a file, and LARAVEL_STORAGE_DIR is not set")
        if not path or "\0" in path:
            raise LaravelInputError(field, "is not a file path")
        root = self.root.resolve()
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = root / candidate
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            raise LaravelInputError(
                field, f"{path!r}: no such file in LARAVEL_STORAGE_DIR"
            ) from None
        if not resolved.is_relative_to(root):
            raise LaravelInputError(field, f"{path!r} leads outside LARAVEL_STORAGE_DIR")
        if not resolved.is_file():
            raise LaravelInputError(field, f"{path!r} is not a regular file")
        size = resolved.stat().st_size
        if size > max_bytes:
            raise LaravelInputError(field, f"{path!r} is {size} bytes; at most {max_bytes}")
        try:
            source = open(resolved, "rb", opener=_no_follow)  # noqa: SIM115 - closed by the caller
        except OSError as error:
            raise LaravelInputError(field, f"{path!r} cannot be read ({error.strerror})") from None
        head = source.read(12)
        source.seek(0)
        return LaravelFile(source, size, head)


def _no_follow(path: str, flags: int) -> int:
    # Resolved already; a link swapped in since then is not followed out of the root.
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))
