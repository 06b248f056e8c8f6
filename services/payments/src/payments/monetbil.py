"""Monetbil's checkPayment API: the status of a transaction, asked server to server.

A callback is never trusted on its own (anyone can POST a form); the payment is marked
paid only once checkPayment confirms the transaction. The API takes a form field
`paymentId` and answers JSON such as
`{"message": "payment finish", "transaction": {"status": 1, "amount": 500, "currency": "XAF", ...}}`
where status 1 is a success, 0 a failure and -1 a cancellation; while the customer has
not finished, there is no `transaction` (`{"message": "payment pending"}`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from common.errors import Permanent
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

log = logging.getLogger("relay.payments.monetbil")


class CheckStatus(StrEnum):
    success = "success"
    failed = "failed"
    pending = "pending"


@dataclass(frozen=True)
class CheckResult:
    status: CheckStatus
    amount: Any = None
    currency: Any = None


class CheckUnavailable(Exception):
    """checkPayment did not answer usefully (down, timeout, 5xx, 429, not JSON): transient."""


class CheckRejected(Permanent):
    """checkPayment refused the request (a 4xx other than 429): retrying will not help."""


class CheckPending(Exception):
    """Monetbil has no final status yet: try again after the next retry delay."""


_STATUS = {1: CheckStatus.success, 0: CheckStatus.failed, -1: CheckStatus.failed}


def parse_answer(body: Any) -> CheckResult:
    """A checkPayment JSON answer as a CheckResult (pending when there is no final status)."""
    if not isinstance(body, dict):
        raise CheckUnavailable(f"checkPayment answered {type(body).__name__}, not an object")
    transaction = body.get("transaction")
    if not isinstance(transaction, dict):
        return CheckResult(CheckStatus.pending)
    try:
        code = int(transaction.get("status"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return CheckResult(CheckStatus.pending)
    status = _STATUS.get(code, CheckStatus.pending)
    return CheckResult(status, transaction.get("amount"), transaction.get("currency"))


class MonetbilChecker:
    """Asks checkPayment, with a timeout per request and a few quick retries (tenacity)."""

    def __init__(self, url: str, *, timeout: float, tries: int) -> None:
        self.url = url
        self.tries = tries
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    async def check(self, transaction_id: str) -> CheckResult:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.tries),
            wait=wait_exponential(multiplier=0.2, max=2),
            retry=retry_if_exception_type(CheckUnavailable),
            reraise=True,
        ):
            with attempt:
                return await self._ask(transaction_id)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _ask(self, transaction_id: str) -> CheckResult:
        try:
            response = await self._client.post(self.url, data={"paymentId": transaction_id})
        except httpx.TransportError as error:
            raise CheckUnavailable(f"checkPayment unreachable: {error!r}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise CheckUnavailable(f"checkPayment answered {response.status_code}")
        if response.status_code >= 400:
            raise CheckRejected(
                f"checkPayment answered {response.status_code}: {response.text[:200]}"
            )
        try:
            body = response.json()
        except ValueError as error:
            raise CheckUnavailable("checkPayment answered something that is not JSON") from error
        return parse_answer(body)

    async def close(self) -> None:
        await self._client.aclose()
