"""Reading a CSV recipient file as it arrives in pieces: records, line numbers, limits."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sms.api.upload import CsvRecipients, TooManyRecipients, UploadProblem

# A bare CR inside a field is not CSV (csv.writer leaves it unquoted), so cells hold none.
CELL = st.text(alphabet=st.sampled_from('ab ,"\n\u00e9€'), max_size=8)


def _read(data: bytes, piece: int, limit: int = 1000) -> list[tuple[int, dict[str, str]]]:
    reader = CsvRecipients("body", limit)
    rows = []
    for start in range(0, len(data), piece):
        rows += reader.feed(data[start : start + piece])
    return rows + reader.finish()


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(CELL, CELL), max_size=12),
    piece=st.integers(min_value=1, max_value=40),
    bom=st.booleans(),
    crlf=st.booleans(),
)
def test_records_and_lines_do_not_depend_on_how_the_body_is_cut(
    rows: list[tuple[str, str]], piece: int, bom: bool, crlf: bool
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(["phone", "name"])
    expected = []
    line = 2
    for phone, name in rows:
        writer.writerow([f"p{phone}", name])  # never a blank record
        expected.append((line, {"phone": f"p{phone}".strip(), "name": name.strip()}))
        line += sum(field.count("\n") for field in (phone, name)) + 1
    data = ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()
    got = _read(data, piece)
    assert got == [(n, {k: v for k, v in row.items() if v}) for n, row in expected]


def test_quoted_commas_extra_columns_and_blank_lines() -> None:
    data = b'Name,PHONE,notes\r\n"Doe, Jane",+24177000001,x\r\n\r\nBob,+24177000002\r\n'
    assert _read(data, 5) == [
        (2, {"name": "Doe, Jane", "phone": "+24177000001"}),
        (4, {"name": "Bob", "phone": "+24177000002"}),
    ]


def test_a_file_without_a_phone_column_or_without_anything_is_refused() -> None:
    with pytest.raises(UploadProblem, match="phone"):
        _read(b"name\nA\n", 3)
    with pytest.raises(UploadProblem, match="empty"):
        _read(b"", 3)
    with pytest.raises(UploadProblem, match="UTF-8"):
        _read(b"phone\n\xff\n", 3)


def test_rows_beyond_the_limit_stop_the_reading() -> None:
    assert len(_read(b"phone\n1\n2\n", 4, limit=2)) == 2
    with pytest.raises(TooManyRecipients, match="at most 2"):
        _read(b"phone\n1\n2\n3\n", 4, limit=2)
