"""A multipart upload read as a stream, with a hard size limit.

Starlette's `request.form()` would take the whole body before we could refuse it; here
the file goes to a spooled temporary file (memory up to 1 MiB, then disk) as it arrives,
and reading stops as soon as the file passes the limit.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO

from common.multipart import MultipartError, Part, boundary_of, multipart_parts
from starlette.requests import Request

# Room for the multipart framing and the small form fields around the file.
_FRAMING = 64 * 1024
_FIELD_MAX = 1000
_SPOOL_IN_MEMORY = 1024 * 1024
# Past the limit we still read (and discard) this much, so the client gets the 413
# instead of a connection reset; anything bigger is cut off.
_DRAIN_MAX = 64 * 1024 * 1024


class UploadTooLarge(Exception):
    pass


class UploadInvalid(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class NotMultipart(Exception):
    pass


@dataclass
class Upload:
    file: IO[bytes] | None = None
    size: int = 0
    head: bytes = b""
    fields: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


async def read_upload(request: Request, *, file_field: str, max_bytes: int) -> Upload:
    """The upload's file (rewound) and form fields; UploadTooLarge past `max_bytes`."""
    content_type = request.headers.get("content-type", "")
    if boundary_of(content_type) is None:
        raise NotMultipart
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _FRAMING:
        await _drain(request)
        raise UploadTooLarge
    upload = Upload()
    try:
        await _collect(
            upload, multipart_parts(content_type, request.stream()), file_field, max_bytes
        )
    except UploadTooLarge:
        upload.close()
        await _drain(request)
        raise
    except UploadInvalid:
        upload.close()
        raise
    except MultipartError as malformed:
        upload.close()
        raise UploadInvalid("body", f"malformed multipart body: {malformed}") from malformed
    if upload.file is not None:
        upload.file.seek(0)
    return upload


async def _collect(
    upload: Upload, parts: AsyncIterator[Part], file_field: str, max_bytes: int
) -> None:
    """The `file` part to a spool (memory up to 1 MiB, then disk), small fields to memory."""
    name, is_file, value = "", False, bytearray()
    async for part in parts:
        if part.kind == "begin":
            name, is_file, value = part.name, part.filename is not None, bytearray()
            if name == file_field:
                if upload.file is not None:
                    raise UploadInvalid(file_field, "send exactly one file")
                is_file = True
                upload.file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        elif part.kind == "data" and name == file_field and upload.file is not None:
            upload.size += len(part.data)
            if upload.size > max_bytes:
                raise UploadTooLarge
            if len(upload.head) < 16:
                upload.head += part.data[: 16 - len(upload.head)]
            upload.file.write(part.data)
        elif part.kind == "data" and not is_file:
            value += part.data
            if len(value) > _FIELD_MAX:
                raise UploadInvalid(name or "body", "form field too long")
        elif part.kind == "end" and not is_file and name:
            upload.fields[name] = value.decode("utf-8", "replace")


async def _drain(request: Request) -> None:
    # Raw `receive`: `request.stream()` cannot be iterated a second time.
    drained = 0
    while drained <= _DRAIN_MAX:
        message = await request.receive()
        if message["type"] != "http.request":
            return  # the client went away; nothing to answer to
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
