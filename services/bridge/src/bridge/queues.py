"""The Relay side of the Laravel queues, as topology data: for each Laravel queue `q`, a
Relay queue `laravel.q` on the Relay broker (exchange `laravel`), with its parked queue.

A Laravel message the bridge cannot read is kept in the failed-job store under queue
`laravel.q`; `relay failed retry` republishes its exact bytes there (the store retries a
job to the queue it failed on), and the bridge, consuming `laravel.q` too, hands it over
again, now with the map or the key fixed. When the store is away, such a message waits on
`laravel.q.parked` for it (common.dead_letters), like any dead Relay job.
"""

from __future__ import annotations

from collections.abc import Iterable

from common.topology import Queue

EXCHANGE = "laravel"
PREFIX = f"{EXCHANGE}."


def retry_queue_name(laravel_queue: str) -> str:
    """`sms` -> `laravel.sms`: where its failed jobs are kept and retried through."""
    return f"{PREFIX}{laravel_queue}"


def laravel_queue_of(retry_queue: str) -> str:
    """`laravel.sms` -> `sms`."""
    return retry_queue.removeprefix(PREFIX)


def retry_queues(laravel_queues: Iterable[str]) -> list[Queue]:
    """The Relay-side queues of `laravel_queues`, declared like every Relay queue."""
    return [Queue(retry_queue_name(name), EXCHANGE) for name in laravel_queues]
