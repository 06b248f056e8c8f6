"""How a process waits for RabbitMQ, Postgres or Redis: one backoff for all of them.

Tries again after 0.2 s, doubling to 5 s between tries, for as long as the failure is
one `retry` accepts, and logs a warning before each pause naming what it waits for and
why. Start-up never crashes on a dependency that is not up yet, and never hammers it.
"""

from __future__ import annotations

import logging

from tenacity import AsyncRetrying, RetryCallState, wait_exponential
from tenacity.retry import retry_base

BACKOFF = wait_exponential(multiplier=0.2, max=5)


def waiting_for(what: str, retry: retry_base, log: logging.Logger) -> AsyncRetrying:
    """`async for attempt in waiting_for("postgres", retry_if_exception_type(...), log)`."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            f"waiting for {what}", extra={"error": repr(error), "retry_in": state.upcoming_sleep}
        )

    return AsyncRetrying(wait=BACKOFF, retry=retry, before_sleep=before_sleep, reraise=True)
