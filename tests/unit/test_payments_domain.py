"""The payment state machine and the amount check, without I/O."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from payments.contracts import PaymentStatus
from payments.domain import STRIPE_TARGETS, NotYet, Outcome, amount_flag, can_move, decide

ORDER = {
    PaymentStatus.pending: 0,
    PaymentStatus.succeeded: 1,
    PaymentStatus.failed: 1,
    PaymentStatus.refunded: 2,
}


def _run(events: list[PaymentStatus]) -> tuple[PaymentStatus, list[PaymentStatus]]:
    status, history = PaymentStatus.pending, []
    for target in events:
        try:
            decision = decide(status, target)
        except NotYet:
            continue
        if decision.status is not None:
            status = decision.status
            history.append(status)
    return status, history


@given(st.lists(st.sampled_from(list(PaymentStatus)), max_size=30))
def test_any_sequence_of_events_only_moves_forward_and_reaches_each_status_once(
    events: list[PaymentStatus],
) -> None:
    _, history = _run(events)
    path = [PaymentStatus.pending, *history]
    assert all(ORDER[a] < ORDER[b] for a, b in itertools.pairwise(path))
    assert len(history) == len(set(history))
    assert all(can_move(a, b) for a, b in itertools.pairwise(path))


@given(st.lists(st.sampled_from(list(PaymentStatus)), max_size=10))
def test_replaying_the_same_events_changes_nothing_more(events: list[PaymentStatus]) -> None:
    once, _ = _run(events)
    twice, _ = _run(events + events)
    assert once == twice or (once, twice) == (PaymentStatus.succeeded, PaymentStatus.refunded)


def test_refund_before_success_waits_instead_of_being_dropped() -> None:
    with pytest.raises(NotYet):
        decide(PaymentStatus.pending, PaymentStatus.refunded)


def test_event_for_a_finished_payment_is_stale() -> None:
    assert decide(PaymentStatus.failed, PaymentStatus.succeeded).outcome is Outcome.stale
    assert decide(PaymentStatus.refunded, PaymentStatus.succeeded).outcome is Outcome.stale
    assert decide(PaymentStatus.succeeded, PaymentStatus.failed).outcome is Outcome.stale


def test_mismatch_or_existing_flag_never_marks_succeeded_but_failure_still_applies() -> None:
    flagged = decide(PaymentStatus.pending, PaymentStatus.succeeded, mismatch="amount_mismatch")
    assert flagged.outcome is Outcome.flagged and flagged.flag == "amount_mismatch"
    again = decide(PaymentStatus.pending, PaymentStatus.succeeded, current_flag="amount_mismatch")
    assert again.outcome is Outcome.flagged and again.status is None
    failed = decide(PaymentStatus.pending, PaymentStatus.failed, current_flag="amount_mismatch")
    assert failed.status is PaymentStatus.failed


@pytest.mark.parametrize(
    ("amount", "currency", "flag"),
    [
        (5000, "XAF", None),
        ("5000", "xaf", None),
        ("5000.00", "XAF", None),
        (4999, "XAF", "amount_mismatch"),
        ("50", "XAF", "amount_mismatch"),
        (None, "XAF", "amount_mismatch"),
        ("abc", "XAF", "amount_mismatch"),
        (True, "XAF", "amount_mismatch"),
        (5000, "XOF", "currency_mismatch"),
        (5000, None, "currency_mismatch"),
    ],
)
def test_amount_flag(amount: object, currency: object, flag: str | None) -> None:
    assert amount_flag(5000, "XAF", amount, currency) == flag


def test_only_the_contract_stripe_types_are_handled() -> None:
    assert set(STRIPE_TARGETS) == {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
    }
