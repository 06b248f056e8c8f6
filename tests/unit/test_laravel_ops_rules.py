"""Pure rules around the bridge: calls coalesced into batches (each caller gets its own
answer), Laravel queues marked among the broker's queues (or added, when they live on
another broker), and the bridges' counts as Prometheus text."""

from __future__ import annotations

import asyncio
import time

import pytest
from common.batching import Coalescer
from common.laravel import LaravelQueue, job_counts_text
from gateway.admin.queue_stats import QueueStats, mark_laravel


async def test_concurrent_calls_run_as_one_batch_and_each_gets_its_own_answer() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        return [ValueError(f"odd {n}") if n % 2 else n * 10 for n in items]

    coalescer: Coalescer[int, int] = Coalescer(run, max_size=100, window=0.01)
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(6)), return_exceptions=True)
    assert batches == [[0, 1, 2, 3, 4, 5]]
    assert [r if isinstance(r, int) else str(r) for r in results] == [
        0, "odd 1", 20, "odd 3", 40, "odd 5",
    ]  # fmt: skip


async def test_a_full_batch_runs_at_once_and_a_failed_batch_fails_each_caller() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        if 99 in items:
            raise ConnectionError("database away")
        return list(items)

    coalescer: Coalescer[int, int] = Coalescer(run, max_size=2, window=60)
    assert await asyncio.gather(coalescer.submit(1), coalescer.submit(2)) == [1, 2]
    failed = await asyncio.gather(coalescer.submit(3), coalescer.submit(99), return_exceptions=True)
    assert all(isinstance(f, ConnectionError) for f in failed)
    assert batches == [[1, 2], [3, 99]]


async def test_calls_made_while_batches_run_wait_and_go_together() -> None:
    batches: list[list[int]] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def run(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        started.set()
        await release.wait()
        return list(items)

    coalescer: Coalescer[int, int] = Coalescer(run, max_size=3, window=0.001, max_running=1)
    first = asyncio.ensure_future(coalescer.submit(0))
    await started.wait()
    later = [asyncio.ensure_future(coalescer.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0.01)
    assert batches == [[0]]  # the others wait for the running batch
    release.set()
    assert await asyncio.gather(first, *later) == [0, 1, 2, 3, 4, 5]
    assert batches == [[0], [1, 2, 3], [4, 5]]


def _stats(name: str, ready: int = 0) -> QueueStats:
    return QueueStats(
        name=name, ready=ready, unacked=0, consumers=1, publish_rate=0.0, deliver_rate=0.0
    )


def _reported(name: str, on_relay_broker: bool, seen_ago: float = 0.0) -> LaravelQueue:
    return LaravelQueue(
        name=name,
        retry_queue=f"laravel.{name}",
        on_relay_broker=on_relay_broker,
        ready=7,
        consumers=2,
        seen_at=time.time() - seen_ago,
    )


def test_laravel_queues_are_marked_and_those_on_another_broker_are_added() -> None:
    stats = [_stats("sms", 3), _stats("laravel.sms"), _stats("sms.send"), _stats("mail")]
    marked = mark_laravel(
        stats,
        [
            _reported("sms", on_relay_broker=True),
            _reported("orders", on_relay_broker=False),
            _reported("old", on_relay_broker=False, seen_ago=120),
        ],
    )
    by_name = {q.name: q for q in marked}
    assert [q.name for q in marked] == sorted(by_name)
    assert by_name["sms"].laravel and by_name["sms"].ready == 3  # the broker's own figures
    assert by_name["laravel.sms"].laravel
    assert not by_name["sms.send"].laravel and not by_name["mail"].laravel
    orders = by_name["orders"]
    assert (orders.laravel, orders.ready, orders.consumers) == (True, 7, 2)
    # No bridge has reported it for two minutes: nobody is known to consume it.
    assert by_name["old"].consumers == 0


@pytest.mark.parametrize("counts", [{}, {("App\\Jobs\\SendSmsJob", "accepted"): 3}])
def test_the_bridges_counts_read_as_one_prometheus_counter(
    counts: dict[tuple[str, str], int],
) -> None:
    text = job_counts_text(counts).decode()
    assert "# TYPE relay_laravel_jobs_total counter" in text
    if counts:
        assert (
            'relay_laravel_jobs_total{class="App\\\\Jobs\\\\SendSmsJob",outcome="accepted"} 3.0'
            in text
        )
