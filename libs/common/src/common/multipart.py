"""A multipart/form-data body read as a stream of events, as its bytes arrive.

Starlette's `request.form()` takes the whole body before a route could refuse it; routes
that stream uploads (CSV recipients, images) read these events instead and stop as soon
as a limit is passed. One parser (python-multipart's) behind one small event type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from python_multipart.multipart import MultipartParser, parse_options_header


class MultipartError(ValueError):
    """The body is not a readable multipart/form-data body; the message says why."""


@dataclass
class Part:
    """One event of a multipart body: a part begins (with its name), has data, or ends."""

    kind: Literal["begin", "data", "end"]
    name: str = ""
    filename: str | None = None
    data: bytes = b""


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a multipart/form-data content type, else None."""
    media, options = parse_options_header(content_type)
    if media != b"multipart/form-data":
        return None
    return options.get(b"boundary") or None


async def multipart_parts(content_type: str, body: AsyncIterator[bytes]) -> AsyncIterator[Part]:
    """The events of a multipart/form-data body, in order, as its bytes arrive.

    Raises MultipartError for a body without a boundary or that does not parse.
    """
    boundary = boundary_of(content_type)
    if boundary is None:
        raise MultipartError("multipart/form-data without a boundary")
    collector = _Collector()
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in body:
            if chunk:
                parser.write(chunk)
            for event in collector.events:
                yield event
            collector.events.clear()
        parser.finalize()
    except MultipartError:
        raise
    except Exception as malformed:  # the parser's own errors: a broken multipart body
        raise MultipartError(f"not a valid multipart body: {malformed}") from malformed
    for event in collector.events:
        yield event


@dataclass
class _Collector:
    """MultipartParser's callbacks, turned into Part events."""

    events: list[Part] = field(default_factory=list)
    header_field: bytes = b""
    header_value: bytes = b""
    disposition: bytes = b""

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.part_begin,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_header_field": self.header_field_data,
            "on_header_value": self.header_value_data,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
        }

    def part_begin(self) -> None:
        self.disposition = b""

    def header_field_data(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def header_value_data(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        if self.header_field.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_field, self.header_value = b"", b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.events.append(
            Part("begin", name, filename.decode("utf-8", "replace") if filename else None)
        )

    def part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(Part("data", data=bytes(data[start:end])))

    def part_end(self) -> None:
        self.events.append(Part("end"))
