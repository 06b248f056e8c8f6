"""Pure sms rules: segments and encoding, personalisation, status moves, keywords, chunks."""

from __future__ import annotations

import uuid

import pytest
from common.ratelimit import Rate
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sms.breaker import breaker_state
from sms.contracts import MAX_BATCH, SendSmsBatch, campaign_message_id
from sms.domain import (
    ProviderVerdict,
    apply_receipts,
    chunk_at,
    chunk_size,
    classify_http_status,
    pacing_burst,
)
from sms.opt_out import keyword_of
from sms.personalisation import personalise
from sms.providers.log import LogProvider
from sms.segments import GSM7_BASIC, GSM7_EXTENSION, Encoding, segment
from sms.sending import Sending
from sms.settings import SmsSettings
from sms.statuses import SmsStatus, can_move, sources_of


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, Encoding.gsm7, 160, 1),
        ("a" * 161, Encoding.gsm7, 161, 2),
        ("a" * 306, Encoding.gsm7, 306, 2),
        ("a" * 307, Encoding.gsm7, 307, 3),
        ("€" * 80, Encoding.gsm7, 160, 1),  # extension characters count 2
        ("€" * 81, Encoding.gsm7, 162, 2),
        ("[" + "a" * 158, Encoding.gsm7, 160, 1),
        # 152 septets then an escape pair: the pair moves whole to part two.
        ("a" * 152 + "{" + "a" * 10, Encoding.gsm7, 164, 2),
        ("a" * 152 + "{" + "a" * 152, Encoding.gsm7, 306, 3),
        ("é" * 160, Encoding.gsm7, 160, 1),  # é is in the GSM-7 basic table
        ("ê" * 70, Encoding.ucs2, 70, 1),  # ê is not
        ("ê" * 71, Encoding.ucs2, 71, 2),
        ("ê" * 134, Encoding.ucs2, 134, 2),
        ("ê" * 135, Encoding.ucs2, 135, 3),
        ("😀" * 35, Encoding.ucs2, 70, 1),  # emoji are surrogate pairs: 2 code units
        ("😀" * 36, Encoding.ucs2, 72, 2),
        ("a" * 66 + "😀" + "a" * 10, Encoding.ucs2, 78, 2),
        ("Hello 👋", Encoding.ucs2, 8, 1),
        ("", Encoding.gsm7, 0, 0),
    ],
)
def test_segments_and_encoding(text: str, encoding: Encoding, units: int, segments: int) -> None:
    result = segment(text)
    assert (result.encoding, result.units, result.segments) == (encoding, units, segments)


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), min_size=1, max_size=1600))
def test_gsm7_segments_fit_their_parts(text: str) -> None:
    result = segment(text)
    assert result.encoding is Encoding.gsm7
    assert result.units == sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    if result.units <= 160:
        assert result.segments == 1
    else:
        # Never fewer parts than the units need, at most one extra for pairs at part ends.
        assert -(-result.units // 153) <= result.segments <= -(-result.units // 152)


@given(st.text(min_size=1, max_size=700))
def test_any_text_has_one_encoding_and_enough_parts(text: str) -> None:
    result = segment(text)
    per_part = 160 if result.encoding is Encoding.gsm7 else 70
    assert result.segments >= 1
    assert result.segments * per_part >= result.units or result.segments > 1


def test_personalisation_replaces_each_placeholder() -> None:
    template = "Bonjour #name, promesse #pledge, payé #paid_amount, reste #balance (#days_remain j)"
    fields = {
        "name": "Awa",
        "pledge": 5000,
        "paid_amount": 1500.0,
        "balance": "3500",
        "days_remain": 12,
    }
    assert personalise(template, fields) == (
        "Bonjour Awa, promesse 5000, payé 1500, reste 3500 (12 j)"
    )


def test_personalisation_leaves_unknown_tags_and_blanks_missing_values() -> None:
    assert personalise("#names #name #unknown", {}) == "#names  #unknown"


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (SmsStatus.queued, SmsStatus.sending, True),
        (SmsStatus.sending, SmsStatus.sent, True),
        (SmsStatus.sent, SmsStatus.delivered, True),
        (SmsStatus.sent, SmsStatus.failed, True),
        (SmsStatus.queued, SmsStatus.failed, True),
        (SmsStatus.delivered, SmsStatus.sent, False),
        (SmsStatus.delivered, SmsStatus.failed, False),
        (SmsStatus.failed, SmsStatus.delivered, False),
        (SmsStatus.sent, SmsStatus.sending, False),
        (SmsStatus.skipped, SmsStatus.sent, False),
    ],
)
def test_status_moves_forward_only(current: SmsStatus, target: SmsStatus, allowed: bool) -> None:
    assert can_move(current, target) is allowed


def test_sources_of_a_late_sent_receipt_exclude_delivered() -> None:
    assert set(sources_of(SmsStatus.sent)) == {"queued", "sending"}
    assert "delivered" not in sources_of(SmsStatus.failed)


@pytest.mark.parametrize(
    ("body", "keyword"),
    [("STOP", "STOP"), (" stop ", "STOP"), ("Unsubscribe", "UNSUBSCRIBE"), ("quit!", "QUIT"),
     ("start", "START"), ("UNSTOP", "UNSTOP"), ("please stop", None), ("hello", None)],
)  # fmt: skip
def test_opt_keywords(body: str, keyword: str | None) -> None:
    assert keyword_of(body) == keyword


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, "sent"), (202, "sent"), (429, "transient"), (500, "transient"), (503, "transient"),
     (400, "permanent"), (401, "permanent"), (404, "permanent"), (422, "permanent")],
)  # fmt: skip
def test_http_answers_are_classified_by_the_contract(status: int, verdict: str) -> None:
    assert classify_http_status(status) is ProviderVerdict(verdict)


def test_small_campaigns_go_at_once_and_large_ones_in_chunks() -> None:
    assert chunk_size(99, 50, 100) == 99
    assert chunk_size(100, 50, 100) == 50
    chunks = [chunk_at(i, 120, 50) for i in range(3)]
    assert [(c.start, c.stop, c.is_last) for c in chunks] == [
        (0, 50, False), (50, 100, False), (100, 120, True)
    ]  # fmt: skip


def test_campaign_message_ids_are_deterministic() -> None:
    import uuid

    campaign = uuid.uuid4()
    assert campaign_message_id(campaign, 7) == campaign_message_id(campaign, 7)
    assert campaign_message_id(campaign, 7) != campaign_message_id(campaign, 8)


def test_pacing_burst_defaults_to_a_minute_of_pace() -> None:
    assert pacing_burst(10000, 0) == 166
    assert pacing_burst(10, 0) == 1
    assert pacing_burst(10000, 5) == 5


def test_breaker_state_for_ops() -> None:
    assert breaker_state({}, 1000)["state"] == "closed"
    assert breaker_state({"failures": "5", "open_until": "2000"}, 1000) == {
        "state": "open", "failures": 5, "retry_in": 1.0
    }  # fmt: skip
    assert breaker_state({"failures": "5", "open_until": "2000"}, 3000)["state"] == "half_open"


def test_a_campaign_batch_reads_a_one_message_job_queued_before_batches() -> None:
    sms_id = uuid.uuid4()
    legacy = SendSmsBatch.model_validate_json(f'{{"sms_id": "{sms_id}", "user_id": "u-1"}}')
    assert legacy.sms_ids == [sms_id] and legacy.user_id == "u-1"


def test_a_campaign_batch_holds_between_one_and_max_batch_messages() -> None:
    with pytest.raises(ValidationError):
        SendSmsBatch(sms_ids=[], user_id="u-1")
    with pytest.raises(ValidationError):
        SendSmsBatch(sms_ids=[uuid.uuid4() for _ in range(MAX_BATCH + 1)], user_id="u-1")


@pytest.mark.parametrize(
    ("batch", "per_hour", "burst", "provider_rate", "limit"),
    [
        (100, 0, 0, 0.0, 100),  # unpaced: the configured batch
        (100, 10000, 0, 0.0, 100),  # a minute's worth (166) of pacing burst is more
        (100, 600, 0, 0.0, 10),  # pacing grants at most 10 at once
        (100, 0, 0, 25.0, 25),  # the provider rate's burst is one second's worth
        (100, 600, 40, 5.0, 5),
    ],
)
def test_a_batch_never_exceeds_what_a_throttle_can_grant(
    batch: int, per_hour: int, burst: int, provider_rate: float, limit: int
) -> None:
    settings = SmsSettings(
        sms_bulk_batch=batch,
        sms_bulk_per_hour=per_hour,
        sms_bulk_burst=burst,
        sms_provider_rate=provider_rate,
    )
    sending = Sending(
        settings=settings,
        provider=LogProvider(),
        breaker=None,  # type: ignore[arg-type]  # not used by batch_limit
        bulk_rate=Rate(per_hour, 3600, burst=pacing_burst(per_hour, burst)) if per_hour else None,
        provider_rate=Rate(provider_rate, 1, burst=int(provider_rate)) if provider_rate else None,
    )
    assert sending.batch_limit == limit


@pytest.mark.parametrize(
    ("receipts", "final", "applied"),
    [
        ([SmsStatus.delivered], SmsStatus.delivered, [True]),
        ([SmsStatus.sent, SmsStatus.delivered], SmsStatus.delivered, [False, True]),
        ([SmsStatus.failed, SmsStatus.delivered], SmsStatus.failed, [True, False]),
        ([SmsStatus.delivered, SmsStatus.failed], SmsStatus.delivered, [True, False]),
        ([], SmsStatus.sent, []),
    ],
)
def test_early_receipts_apply_in_arrival_order_and_only_forward(
    receipts: list[SmsStatus], final: SmsStatus, applied: list[bool]
) -> None:
    assert apply_receipts(SmsStatus.sent, receipts) == (final, applied)
