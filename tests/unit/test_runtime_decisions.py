"""What becomes of a job that did not finish: one function decides, for whole jobs and parts."""

from __future__ import annotations

import asyncpg
import pytest
from common.consumer import RetryPolicy, policy_for, policy_headers, queue_policy
from common.consumer.decisions import Action, decide
from common.consumer.retries import retry_tier, wait_tier
from common.envelope import Envelope
from common.errors import Permanent, RetryLater
from common.settings import RuntimeSettings
from common.topology import Queue
from hypothesis import given
from hypothesis import strategies as st

POLICY = RetryPolicy(max_attempts=3, delays=(10.0, 30.0), timeout=60.0)
QUEUE = Queue("test.rules", "test", retry_delays=(10.0, 30.0, 60.0))
SETTINGS = RuntimeSettings()


@pytest.mark.parametrize(
    ("failure", "attempt", "action", "delay", "error"),
    [
        (RetryLater(12.0, "throttled"), 3, Action.wait, 12.0, "throttled"),
        (asyncpg.exceptions.CannotConnectNowError("x"), 3, Action.wait, 5.0, "infrastructure"),
        (Permanent("refused"), 1, Action.bury, 0.0, "Permanent: refused"),
        (RuntimeError("boom"), 1, Action.retry, 10.0, "RuntimeError: boom"),
        (RuntimeError("boom"), 2, Action.retry, 30.0, "RuntimeError: boom"),
        (RuntimeError("boom"), 3, Action.bury, 0.0, "RuntimeError: boom"),
        (TimeoutError(), 1, Action.retry, 10.0, "timed out after 60s"),
    ],
)
def test_a_failure_is_decided_by_its_kind_and_attempt(
    failure: BaseException, attempt: int, action: Action, delay: float, error: str
) -> None:
    decision = decide(failure, attempt, POLICY, now=0)
    assert (decision.action, decision.delay) == (action, delay)
    assert decision.error.startswith(error)


def test_retry_until_overrides_the_attempt_count_as_laravel_does() -> None:
    until = RetryPolicy(max_attempts=1, delays=(10.0,), timeout=60.0, retry_until=100.0)
    assert decide(RuntimeError("x"), 7, until, now=99).action is Action.retry
    assert decide(RuntimeError("x"), 1, until, now=100).action is Action.bury


def test_a_message_policy_comes_from_its_headers_over_the_queues() -> None:
    headers = policy_headers(max_attempts=5, delays=(1.5, 2.0), timeout=9, retry_until=1e9)
    policy = policy_for(QUEUE, SETTINGS, Envelope(headers=headers))
    assert policy == RetryPolicy(5, (1.5, 2.0), 9.0, 1e9)
    assert policy_for(QUEUE, SETTINGS, Envelope()) == queue_policy(QUEUE, SETTINGS)


@given(
    st.dictionaries(
        st.sampled_from(["x-max-attempts", "x-retry-delays", "x-timeout", "x-retry-until"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary()),
    )
)
def test_odd_policy_headers_never_raise_and_never_make_nonsense(headers: dict) -> None:  # type: ignore[type-arg]
    policy = policy_for(QUEUE, SETTINGS, Envelope(headers=headers))
    assert policy.max_attempts >= 1 and policy.timeout > 0
    assert policy.delays and all(delay > 0 for delay in policy.delays)


def test_a_retry_waits_at_least_its_delay_and_a_wait_never_overshoots() -> None:
    # Tiers: the queue's delays plus the wait tiers (1, 5, 30, 300).
    assert retry_tier(QUEUE, SETTINGS, 45.0).delay == 60.0
    assert retry_tier(QUEUE, SETTINGS, 10.0).delay == 10.0
    assert wait_tier(QUEUE, SETTINGS, 12.0).delay == 10.0
    assert wait_tier(QUEUE, SETTINGS, 4.0).delay == 1.0
    assert wait_tier(QUEUE, SETTINGS, 0.2).delay == 1.0
    assert wait_tier(QUEUE, SETTINGS, 1000.0).delay == 300.0


def test_a_fractional_attempt_count_still_allows_one_attempt() -> None:
    policy = policy_for(QUEUE, SETTINGS, Envelope(headers={"x-max-attempts": "0.5"}))
    assert policy.max_attempts == 1
