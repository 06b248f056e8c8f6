"""Pure rules behind dead messages: safe text, previews, refusals, held-back acks."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import re
from types import SimpleNamespace
from typing import Any

import pytest
from common.consumer import acks
from common.consumer.acks import BatchedAcks
from common.consumer.intake import Refused, read_job
from common.envelope import Job
from common.safe_text import PREVIEW_CHARS, body_preview, jsonable, preview_payload, storable
from hypothesis import given
from hypothesis import strategies as st


class Ping(Job):
    key: str


def delivery(body: bytes, **properties: Any) -> Any:
    return SimpleNamespace(
        body=body, content_type=properties.get("content_type"), type=properties.get("type")
    )


@given(st.binary(max_size=4096))
def test_any_body_has_a_preview_postgres_can_store(body: bytes) -> None:
    preview, exact = body_preview(body)
    assert "\x00" not in preview
    preview.encode("utf-8")  # no lone surrogates
    if exact:
        assert preview.encode() == body


def test_a_short_utf8_body_is_its_own_preview_and_json_is_parsed() -> None:
    assert body_preview(b'{"key": "caf\xc3\xa9"}') == ('{"key": "café"}', True)
    assert preview_payload('{"key": "café"}', True) == {"key": "café"}
    assert preview_payload("not json", True) == "not json"


def test_a_long_or_binary_body_is_previewed_with_its_size() -> None:
    preview, exact = body_preview(b"\xff\x00" * 10)
    assert not exact and preview.startswith("[20 bytes, shown escaped]")
    preview, exact = body_preview(b"x" * (PREVIEW_CHARS + 1))
    assert not exact and len(preview) < PREVIEW_CHARS + 200
    assert preview_payload(preview, exact) == preview


NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

header_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.decimals()
    | st.datetimes(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), header_values, max_size=6))
def test_any_headers_become_json_that_jsonb_accepts(headers: dict[str, Any]) -> None:
    text = json.dumps(jsonable(headers), allow_nan=False)
    # jsonb refuses the escape \u0000 (an odd run of backslashes before u0000); the text
    # "\u0000" itself (escaped backslash, then u0000) is fine.
    assert NUL_ESCAPE.search(text) is None and "\x00" not in text


def test_odd_header_values_keep_their_meaning_as_text() -> None:
    cleaned = jsonable(
        {
            "amount": decimal.Decimal("1.5"),
            "at": datetime.datetime(2020, 1, 2),
            "raw": b"\xffok",
            "nul": "a\x00b",
            "nan": float("nan"),
        }
    )
    assert cleaned == {
        "amount": "1.5",
        "at": "2020-01-02T00:00:00",
        "raw": "\\xffok",
        "nul": "a\\x00b",
        "nan": "nan",
    }


def test_storable_text_is_cut_and_says_how_much_was_left_out() -> None:
    assert storable("a" * 20, 5) == "aaaaa… [15 more characters]"
    assert storable("\ud800x") == "\\ud800x"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (delivery(b'{"key": "k"}', content_type="text/csv"), "is not JSON"),
        (delivery(b'{"key": "k"}', type="Refund"), "does not belong on q"),
        (delivery(b""), "the body is empty"),
        (delivery(b"\xff\x00"), "invalid payload"),
        (delivery(b'{"key": 1}'), "invalid payload"),
    ],
)
def test_a_delivery_that_is_not_a_job_of_its_queue_is_refused_with_why(
    message: Any, reason: str
) -> None:
    with pytest.raises(Refused, match=reason):
        read_job(Ping, "q", message)


@pytest.mark.parametrize(
    "properties",
    [{}, {"type": "Ping"}, {"content_type": "application/json; charset=utf-8"}],
)
def test_a_valid_job_needs_neither_type_nor_content_type(properties: dict[str, str]) -> None:
    assert read_job(Ping, "q", delivery(b'{"key": "k"}', **properties)) == Ping(key="k")


class FakeChannel:
    def __init__(self) -> None:
        self.acked: list[tuple[int, bool]] = []

    async def basic_ack(self, tag: int, multiple: bool = False) -> None:
        self.acked.append((tag, multiple))


async def test_finished_deliveries_held_back_by_a_long_one_are_acked_on_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(acks, "HELD_BACK", 0.05)
    channel = FakeChannel()
    batch = BatchedAcks()
    messages = [SimpleNamespace(channel=channel, delivery_tag=tag) for tag in (1, 2, 3)]
    for message in messages:
        batch.delivered(message)  # type: ignore[arg-type]
    batch.finished(messages[1])  # type: ignore[arg-type]
    batch.finished(messages[2])  # type: ignore[arg-type]
    await asyncio.sleep(0.2)
    assert sorted(channel.acked) == [(2, False), (3, False)]
    batch.finished(messages[0])  # type: ignore[arg-type]
    await batch.drain()
    assert channel.acked[-1] == (1, True)
