"""Pure rules of the ops features: the autoscaling step and the search tags."""

from __future__ import annotations

import logging

from common.consumer.autoscale import change_log_level, next_prefetch
from common.lifecycle import tags_of
from hypothesis import given
from hypothesis import strategies as st


def test_backlog_raises_prefetch_at_once_and_idleness_lowers_it_gradually() -> None:
    assert next_prefetch(2, running=2, ready=500, low=2, high=20) == 20
    assert next_prefetch(20, running=0, ready=0, low=2, high=20) == 11
    assert next_prefetch(3, running=0, ready=0, low=2, high=20) == 2
    assert next_prefetch(5, running=5, ready=0, low=2, high=20) == 5


def test_only_reaching_the_maximum_concurrency_logs_at_info() -> None:
    """A quiet stack logs nothing periodic: the idle ramp-down (`5 → 4`) is DEBUG."""
    assert change_log_level(5, 4, high=20) == logging.DEBUG
    assert change_log_level(2, 9, high=20) == logging.DEBUG
    assert change_log_level(2, 20, high=20) == logging.INFO
    assert change_log_level(20, 11, high=20) == logging.DEBUG


@given(
    current=st.integers(1, 50),
    running=st.integers(0, 50),
    ready=st.integers(0, 10_000),
    low=st.integers(1, 10),
    span=st.integers(0, 30),
)
def test_prefetch_stays_between_the_bounds_once_inside(
    current: int, running: int, ready: int, low: int, span: int
) -> None:
    high = low + span
    current = max(low, min(high, current))
    assert low <= next_prefetch(current, running, ready, low, high) <= high


def test_tags_come_from_the_user_the_type_and_the_payload_ids() -> None:
    body = b'{"campaign_id": "c-1", "payment_id": 42, "to": "+237", "sms_id": ""}'
    tags = tags_of("u-1", "SendSms", body)
    assert tags == [
        "type:SendSms",
        "user:u-1",
        "any:u-1",
        "campaign:c-1",
        "any:c-1",
        "payment:42",
        "any:42",
    ]
    assert tags_of(None, "T", b"not json") == ["type:T"]


def test_enqueued_at_survives_the_amqp_header_encoding_to_the_millisecond() -> None:
    import time

    from common.envelope import ENQUEUED_AT, Envelope, enqueued_stamp
    from pamqp import decode, encode

    now = time.time()
    _, table = decode.field_table(encode.field_table({ENQUEUED_AT: enqueued_stamp(now)}))
    enqueued = Envelope(headers=table).enqueued_at()
    assert enqueued is not None and abs(enqueued - now) < 0.002
