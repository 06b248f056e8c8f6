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

from common.multipart import MultipartError, Part
from common.multipart import multipart_parts as _multipart_parts

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


async def multipart_parts(content_type: str, body: AsyncIterator[bytes]) -> AsyncIterator[Part]:
    """The events of a multipart body (common.multipart); a broken body is a 422 on `body`."""
    try:
        async for part in _multipart_parts(content_type, body):
            yield part
    except MultipartError as error:
        raise UploadProblem("body", str(error)) from error
