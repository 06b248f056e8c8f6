"""File storage behind one small interface: a local directory now, S3-compatible later.

Keys are relative paths such as `<upload id>/original`. No process may assume the file
system of another (ARCHITECTURE: "no files one replica writes and another reads unless
behind a storage interface"), so every read and write goes through a `FileStorage`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Protocol

_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")
_CHUNK = 256 * 1024


class StorageKeyError(ValueError):
    """A key that could escape the storage root or is not a plain relative path."""


class FileStorage(Protocol):
    """Where uploaded files live; every method is safe to call from several replicas."""

    async def save(self, key: str, source: IO[bytes]) -> int:
        """Store `source` (read from its current position) under `key`; returns the byte count."""
        ...

    async def save_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there."""
        ...

    async def read(self, key: str) -> bytes:
        """The whole file; FileNotFoundError when `key` does not exist."""
        ...

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The file in chunks (for downloads); FileNotFoundError when `key` does not exist."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove `key`; no error when it is already gone."""
        ...


def check_key(key: str) -> str:
    """`key` if it is a plain relative path (no `..`, no leading `/`), else StorageKeyError."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise StorageKeyError(f"invalid storage key {key!r}")
    return key


class LocalFileStorage:
    """Files under one directory (a directory setting; a named volume under docker compose).

    Writes go to a temporary file in the same directory, then `os.replace`: a reader on
    another replica sees the whole old file or the whole new one, never a half-written one.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def save(self, key: str, source: IO[bytes]) -> int:
        return await asyncio.to_thread(self._write, self.path(key), source)

    async def save_bytes(self, key: str, data: bytes) -> None:
        import io

        await asyncio.to_thread(self._write, self.path(key), io.BytesIO(data))

    @staticmethod
    def _write(target: Path, source: IO[bytes]) -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{uuid.uuid4().hex}.")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return written

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, _CHUNK):
                yield chunk
        finally:
            handle.close()

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self.path(key).unlink)


def open_storage(location: str) -> FileStorage:
    """The storage a directory setting names (a directory path for now).

    An `s3://bucket/prefix` location is where an S3-compatible backend will plug in.
    """
    if "://" in location and not location.startswith("file://"):
        raise ValueError(f"unsupported storage location {location!r}: only a directory for now")
    return LocalFileStorage(location.removeprefix("file://"))
