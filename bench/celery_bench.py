"""Celery contender: pyamqp broker, publisher confirms, acks_late, no result backend.

The parent publishes with `apply_async` in a loop (with `confirm_publish` every publish
waits for its confirm: Celery has no pipelined-confirm API). The worker is a subprocess:

    celery -A bench.celery_bench worker -Q <queue> --pool=<POOL> -c <CONCURRENCY>
           --prefetch-multiplier <M> --without-gossip --without-mingle --without-heartbeat

The task records (n, sent_at, handled_at) through a batched Redis recorder; the parent
reads them back once all N are in.

Pool choice: solo (measured against threads and prefork on this 2-core box; see bench/README.md).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from celery import Celery

from bench._infra import (
    AMQP_URL,
    RedisRecorder,
    clear_key,
    collect_samples,
    delete_exchanges,
    delete_queues,
    fresh_name,
    venv_script,
    wait_for_consumer,
    worker_process,
)
from bench.report import RunResult

POOL = os.environ.get("BENCH_CELERY_POOL", "solo")
CONCURRENCY = int(os.environ.get("BENCH_CELERY_CONCURRENCY", "1"))
PREFETCH_MULTIPLIER = int(os.environ.get("BENCH_CELERY_PREFETCH_MULTIPLIER", "256"))
CONFIG = (
    f"worker --pool={POOL} -c {CONCURRENCY}, prefetch {PREFETCH_MULTIPLIER}x{CONCURRENCY}, "
    "acks_late, confirm_publish, apply_async loop"
)

app = Celery("bench_celery", broker=AMQP_URL.replace("amqp://", "pyamqp://", 1))
app.conf.update(
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
    task_acks_late=True,
    task_ignore_result=True,
    result_backend=None,
    task_serializer="json",
    accept_content=["json"],
    task_default_delivery_mode="persistent",
    task_create_missing_queues=True,
    worker_prefetch_multiplier=PREFETCH_MULTIPLIER,
    worker_enable_remote_control=False,  # no pidbox queues to leak
    worker_send_task_events=False,
    worker_hijack_root_logger=False,
)

# Worker side: the parent passes the run's Redis key in the environment.
recorder = RedisRecorder(os.environ.get("BENCH_REDIS_KEY", "bench:celery:unset"))


@app.task(name="bench.noop")  # type: ignore[untyped-decorator]
def noop(job: dict[str, Any]) -> None:
    """The no-op job handler; records when it finished."""
    recorder.record(job["n"], job["sent_at"])


def run(n: int) -> RunResult:
    queue = fresh_name("bench_celery")
    key = f"bench:{queue}"
    argv = [
        venv_script("celery"),
        "-A",
        "bench.celery_bench",
        "worker",
        "-Q",
        queue,
        f"--pool={POOL}",
        "-c",
        str(CONCURRENCY),
        "--prefetch-multiplier",
        str(PREFETCH_MULTIPLIER),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=WARNING",
        "-n",
        f"{queue}@%h",
    ]
    try:
        # SIGQUIT = cold shutdown; the worker only notices signals every ~6 s when idle, so
        # SIGKILL after 3 s: every job is handled by then and the queue is deleted anyway.
        with worker_process(
            argv,
            env={"BENCH_REDIS_KEY": key},
            label="celery",
            stop_signal=signal.SIGQUIT,
            stop_grace=3.0,
        ) as proc:
            wait_for_consumer(queue, proc)
            with app.producer_or_acquire() as producer:
                for i in range(n):
                    noop.apply_async(
                        ({"n": i, "sent_at": time.time()},), queue=queue, producer=producer
                    )
            samples = collect_samples(key, n)
    finally:
        clear_key(key)
        # Celery declares a direct exchange named like the queue (task_create_missing_queues).
        delete_queues(queue)
        delete_exchanges(queue)
    return RunResult.from_samples("celery", n, samples, config=CONFIG)
