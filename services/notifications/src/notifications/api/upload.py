"""A multipart upload read as a stream, with a hard size limit.

Starlette's `request.form()` would take the whole body before we could refuse it; here
the file goes to a spooled temporary file (memory up to 1 MiB, then disk) as it arrives,
and reading stops as soon as the file passes the limit.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
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


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    is_file: bool = False
    value: bytearray = field(default_factory=bytearray)


class _Collector:
    """MultipartParser callbacks: the `file` part to a spool, small fields to memory."""

    def __init__(self, file_field: str, max_bytes: int) -> None:
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.upload = Upload()
        self.part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self._header_field.decode("latin-1").lower()
        self.part.headers[name] = self._header_value.decode("latin-1")
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get("content-disposition", ""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        self.part.is_file = b"filename" in options or self.part.name == self.file_field
        if self.part.name == self.file_field:
            if self.upload.file is not None:
                raise UploadInvalid(self.file_field, "send exactly one file")
            self.upload.file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.part.name == self.file_field and self.upload.file is not None:
            self.upload.size += len(chunk)
            if self.upload.size > self.max_bytes:
                raise UploadTooLarge
            if len(self.upload.head) < 16:
                self.upload.head += chunk[: 16 - len(self.upload.head)]
            self.upload.file.write(chunk)
        elif not self.part.is_file:
            self.part.value += chunk
            if len(self.part.value) > _FIELD_MAX:
                raise UploadInvalid(self.part.name or "body", "form field too long")

    def on_part_end(self) -> None:
        if not self.part.is_file and self.part.name:
            self.upload.fields[self.part.name] = self.part.value.decode("utf-8", "replace")


async def read_upload(request: Request, *, file_field: str, max_bytes: int) -> Upload:
    """The upload's file (rewound) and form fields; UploadTooLarge past `max_bytes`."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise NotMultipart
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _FRAMING:
        await _drain(request)
        raise UploadTooLarge
    collector = _Collector(file_field, max_bytes)
    parser = MultipartParser(boundary, collector.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except UploadTooLarge:
        collector.upload.close()
        await _drain(request)
        raise
    except UploadInvalid:
        collector.upload.close()
        raise
    except Exception as malformed:  # the parser's own errors: a broken multipart body
        collector.upload.close()
        raise UploadInvalid("body", f"malformed multipart body: {malformed}") from malformed
    if collector.upload.file is not None:
        collector.upload.file.seek(0)
    return collector.upload


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
