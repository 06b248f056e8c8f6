"""Dramatiq contender: RabbitmqBroker(confirm_delivery=True), no-op actor, worker subprocess.

    dramatiq bench.dramatiq_bench -p <PROCESSES> -t <THREADS> -Q <queue>

Dramatiq declares its own queues: `<q>` (x-dead-letter-routing-key -> `<q>.XQ`), `<q>.DQ`
(delays) and `<q>.XQ` (dead letters); all three are deleted after the run. The parent
publishes with `broker.enqueue` in a loop (pika BlockingConnection: each publish waits for
its confirm). Dramatiq acks after the actor returned (its consumer thread acks on behalf
of the worker threads). Prefetch is set through `dramatiq_queue_prefetch` (default would
be 2 x threads).
"""

from __future__ import annotations

import contextlib
import os
import time

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from bench._infra import (
    AMQP_URL,
    RedisRecorder,
    clear_key,
    collect_samples,
    delete_queues,
    fresh_name,
    venv_script,
    wait_for_consumer,
    worker_process,
)
from bench.report import RunResult

PROCESSES = int(os.environ.get("BENCH_DRAMATIQ_PROCESSES", "1"))
THREADS = int(os.environ.get("BENCH_DRAMATIQ_THREADS", "8"))
PREFETCH = int(os.environ.get("BENCH_DRAMATIQ_PREFETCH", "256"))
CONFIG = (
    f"worker -p {PROCESSES} -t {THREADS}, prefetch {PREFETCH}/process, confirm_delivery, send loop"
)
ACTOR = "bench_noop"


def make_broker(queue: str) -> tuple[RabbitmqBroker, dramatiq.Actor[[dict[str, float]], None]]:
    """A broker with the no-op actor bound to `queue` (one queue per run)."""
    broker = RabbitmqBroker(url=AMQP_URL, confirm_delivery=True)
    recorder = RedisRecorder(os.environ.get("BENCH_REDIS_KEY", "bench:dramatiq:unset"))

    def noop(job: dict[str, float]) -> None:
        """The no-op job handler; records when it finished."""
        recorder.record(int(job["n"]), job["sent_at"])

    actor: dramatiq.Actor[[dict[str, float]], None] = dramatiq.actor(
        actor_name=ACTOR, queue_name=queue, max_retries=0, broker=broker
    )(noop)
    return broker, actor


# Worker side (`dramatiq bench.dramatiq_bench`): the CLI picks up the global broker.
broker, _actor = make_broker(os.environ.get("BENCH_DRAMATIQ_QUEUE", "bench_dramatiq_unset"))
dramatiq.set_broker(broker)


def run(n: int) -> RunResult:
    queue = fresh_name("bench_dramatiq")
    key = f"bench:{queue}"
    argv = [
        venv_script("dramatiq"),
        "bench.dramatiq_bench",
        "-p",
        str(PROCESSES),
        "-t",
        str(THREADS),
        "-Q",
        queue,
    ]
    env = {
        "BENCH_REDIS_KEY": key,
        "BENCH_DRAMATIQ_QUEUE": queue,
        "dramatiq_queue_prefetch": str(PREFETCH),
    }
    parent_broker, actor = make_broker(queue)
    try:
        with worker_process(argv, env=env, label="dramatiq") as proc:
            wait_for_consumer(queue, proc)
            for i in range(n):
                actor.send({"n": i, "sent_at": time.time()})
            samples = collect_samples(key, n)
    finally:
        with contextlib.suppress(Exception):  # best effort; cleanup below must still run
            parent_broker.close()
        clear_key(key)
        delete_queues(queue, f"{queue}.DQ", f"{queue}.XQ")
    return RunResult.from_samples("dramatiq", n, samples, config=CONFIG)
