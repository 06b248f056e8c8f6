"""Recipient files as they arrive: CSV records cut from a streamed body, and the parts of a
multipart form, without ever holding the whole file.

A request body comes in pieces of a few KB; a CSV record may straddle two pieces, and a
quoted field may hold commas and newlines (RFC 4180). Only complete records are handed to
the `csv` module: text is cut after a newline where the number of `"` read so far is
even (an escaped quote is doubled, so parity says whether we are inside a quoted field).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

# The columns a recipient row may use; any other column is ignored.
COLUMNS = ("phone", "name", "pledge", "paid_amount", "balance", "days_remain")
# One record longer than this is not a contact row (an unclosed quote, a binary file).
MAX_RECORD_CHARS = 1 << 20
# Small form fields (name, message, sender) are kept whole; nothing legitimate is longer.
MAX_FIELD_BYTES = 64 * 1024


class UploadProblem(ValueError):
    """The upload cannot be read as a recipient file: a 422 naming `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TooManyRecipients(ValueError):
    """More rows than SMS_CAMPAIGN_MAX_RECIPIENTS: a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"more than {limit} recipients; at most {limit} per campaign "
            "(SMS_CAMPAIGN_MAX_RECIPIENTS)"
        )
        self.limit = limit


@dataclass
class CsvRecipients:
    """Bytes in, recipient rows out: `(csv line, {column: value})`, header row first.

    UTF-8 with or without a byte-order mark; `\\n` or `\\r\\n` line ends; blank lines skipped.
    """

    source: str  # the field a problem is reported against: `body` (text/csv) or `file`
    limit: int
    rows: int = 0
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8-sig")()
    )
    _pending: str = ""
    _lines: int = 0  # physical lines consumed so far
    _header: list[str] | None = None

    def feed(self, data: bytes, final: bool = False) -> list[tuple[int, dict[str, Any]]]:
        try:
            text = self._pending + self._decoder.decode(data, final)
        except UnicodeDecodeError as error:
            raise UploadProblem(
                self.source, f"not UTF-8 text (byte {error.start} of a piece: {error.reason})"
            ) from error
        cut = len(text) if final else _complete_records(text)
        self._pending = text[cut:]
        if len(self._pending) > MAX_RECORD_CHARS:
            raise UploadProblem(
                self.source,
                f"line {self._lines + 1}: a record longer than {MAX_RECORD_CHARS} characters "
                "(an unclosed quote?)",
            )
        return self._records(text[:cut]) if cut else []

    def _records(self, text: str) -> list[tuple[int, dict[str, Any]]]:
        rows: list[tuple[int, dict[str, Any]]] = []
        reader = csv.reader(io.StringIO(text, newline=""))
        base = self._lines
        line = base + 1
        try:
            for record in reader:
                if any(value.strip() for value in record):
                    self._row(line, record, rows)
                line = base + reader.line_num + 1
        except csv.Error as error:
            raise UploadProblem(self.source, f"line {line}: {error}") from error
        self._lines = base + reader.line_num
        return rows

    def _row(self, line: int, record: list[str], rows: list[tuple[int, dict[str, Any]]]) -> None:
        if self._header is None:
            self._header = [name.strip().lower() for name in record]
            if "phone" not in self._header:
                raise UploadProblem(
                    self.source,
                    f"line {line}: the header row has no `phone` column "
                    f"(columns: {', '.join(COLUMNS)})",
                )
            return
        self.rows += 1
        if self.rows > self.limit:
            raise TooManyRecipients(self.limit)
        values: dict[str, Any] = {}
        for name, value in zip(self._header, record, strict=False):
            if name in COLUMNS and name not in values and value.strip():
                values[name] = value.strip()
        rows.append((line, values))

    def finish(self) -> list[tuple[int, dict[str, Any]]]:
        rows = self.feed(b"", final=True)
        if self._header is None:
            raise UploadProblem(self.source, "empty file; a header row with `phone` is required")
        return rows


def _complete_records(text: str) -> int:
    """Where the complete records of `text` end: after the last newline outside quotes."""
    cut = text.rfind("\n") + 1
    while cut and text.count('"', 0, cut) % 2:
        cut = text.rfind("\n", 0, cut - 1) + 1
    return cut


# --------------------------------------------------------------------------- multipart


@dataclass
class Part:
    """One event of a multipart body: a part begins (with its name), has data, or ends."""

    kind: str  # "begin" | "data" | "end"
    name: str = ""
    filename: str | None = None
    data: bytes = b""


@dataclass
class _Collector:
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


async def multipart_parts(content_type: str, body: AsyncIterator[bytes]) -> AsyncIterator[Part]:
    """The events of a multipart/form-data body, in order, as its bytes arrive."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise UploadProblem("body", "multipart/form-data without a boundary")
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
    except MultipartParseError as error:
        raise UploadProblem("body", f"not a valid multipart body: {error}") from error
    for event in collector.events:
        yield event
