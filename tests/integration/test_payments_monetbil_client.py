"""The checkPayment client against real sockets: the fake server and a closed port."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from payments.monetbil import (
    CheckPending,
    CheckRejected,
    CheckStatus,
    CheckUnavailable,
    MonetbilChecker,
    parse_answer,
)

from tests.fakes.payments_monetbil import FakeMonetbilCheck


@pytest.fixture
def fake() -> Iterator[FakeMonetbilCheck]:
    server = FakeMonetbilCheck().start()
    yield server
    server.stop()


async def test_confirmed_and_failed_transactions_are_read(fake: FakeMonetbilCheck) -> None:
    fake.confirm("tx-ok", amount="500", currency="XAF")
    fake.fail("tx-ko", amount=500)
    checker = MonetbilChecker(fake.url, timeout=2, tries=2)
    try:
        ok = await checker.check("tx-ok")
        assert (ok.status, ok.amount, ok.currency) == (CheckStatus.success, "500", "XAF")
        assert (await checker.check("tx-ko")).status is CheckStatus.failed
        assert (await checker.check("tx-unknown")).status is CheckStatus.pending
    finally:
        await checker.close()


async def test_server_errors_are_retried_then_raised_as_unavailable(
    fake: FakeMonetbilCheck,
) -> None:
    fake.down("tx-down")
    checker = MonetbilChecker(fake.url, timeout=2, tries=3)
    try:
        with pytest.raises(CheckUnavailable):
            await checker.check("tx-down")
        assert fake.count("tx-down") == 3
    finally:
        await checker.close()


async def test_a_4xx_is_permanent_and_not_retried(fake: FakeMonetbilCheck) -> None:
    fake.reject("tx-bad")
    checker = MonetbilChecker(fake.url, timeout=2, tries=3)
    try:
        with pytest.raises(CheckRejected):
            await checker.check("tx-bad")
        assert fake.count("tx-bad") == 1
    finally:
        await checker.close()


async def test_unreachable_server_is_unavailable_within_the_timeouts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    checker = MonetbilChecker(f"http://127.0.0.1:{port}/check", timeout=1, tries=2)
    started = time.monotonic()
    try:
        with pytest.raises(CheckUnavailable):
            await checker.check("tx")
    finally:
        await checker.close()
    assert time.monotonic() - started < 10


async def test_silent_server_times_out_as_unavailable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts connections, never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/check"
        checker = MonetbilChecker(url, timeout=0.3, tries=2)
        try:
            with pytest.raises(CheckUnavailable):
                await checker.check("tx")
        finally:
            await checker.close()


def test_answers_without_a_final_status_are_pending() -> None:
    assert parse_answer({"message": "payment pending"}).status is CheckStatus.pending
    assert parse_answer({"transaction": {"status": "7"}}).status is CheckStatus.pending
    assert parse_answer({"transaction": {"status": "-1"}}).status is CheckStatus.failed
    with pytest.raises(CheckUnavailable):
        parse_answer(["not", "an", "object"])
    assert issubclass(CheckPending, Exception)
