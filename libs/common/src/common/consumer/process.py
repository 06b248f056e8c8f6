"""A worker process: consume until SIGTERM, SIGINT or a terminate request, with its records,
metrics, autoscaler, queue control, outbox sweeper and (if asked) outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable, Mapping

from prometheus_client import start_http_server

from ..control.worker import WorkerControl
from ..dead_letters.drain import drain_parked
from ..lifecycle.recorder import LifecycleRecorder
from ..outbox import OutboxRelay, sweep_forever
from ..runtime import Runtime
from ..topology import Queue
from .autoscale import Autoscaler
from .registry import JobRouter
from .worker import Worker

log = logging.getLogger("relay.jobs")


async def run_worker(
    runtime: Runtime,
    router: JobRouter,
    *,
    extra: Callable[[Worker], Awaitable[None]] | None = None,
    prefetch: Mapping[str, int] | None = None,
    relay_outbox: bool = False,
) -> None:
    """Run `router`'s handlers until SIGTERM, SIGINT or `relay terminate`, then drain and close.

    `prefetch` fixes the prefetch of the named queues (queue name -> count).
    `relay_outbox`: this worker also runs an outbox relay, for the domain that stages jobs
    `by_relay` (its handlers, or its routes in the gateway).
    """
    settings = runtime.settings
    worker = Worker(
        runtime,
        router,
        prefetch=prefetch,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Paused queues are read before consuming: a paused queue stays paused across restarts.
    control = WorkerControl(
        worker,
        runtime.redis,
        settings.redis_key_prefix,
        service=runtime.service,
        on_terminate=stop.set,
    )
    await worker.start(paused=await control.initial_paused())
    # Only now: an answering metrics port is the worker's health check (compose, k8s), and
    # a deploy stops the old replica once the new one is healthy, i.e. consuming.
    if runtime.settings.metrics_port:
        start_http_server(runtime.settings.metrics_port)
    await control.listen()
    # Dashboard records and heartbeats, written off the hot path (common.lifecycle).
    recorder = LifecycleRecorder(
        runtime.redis,
        settings,
        service=runtime.service,
        status=lambda: (dict(worker.prefetch), worker.in_flight),
    )
    worker.observers.append(recorder.observe)
    recorder.start()
    autoscaler = Autoscaler(
        worker,
        settings.worker_min_concurrency,
        settings.worker_max_concurrency,
        settings.autoscale_interval,
        settings.autoscale_cooldown,
    )
    if settings.worker_autoscale:
        autoscaler.start()
    unpark = asyncio.create_task(_unpark_forever(runtime, router.queues), name="unpark")
    # Every worker sweeps the outbox: a worker's handlers may stage jobs, and the
    # gateway (which sweeps too) may not be running. SKIP LOCKED: replicas share the rows.
    sweep = asyncio.create_task(
        sweep_forever(runtime.outbox, settings.outbox_sweep_interval, settings.outbox_sweep_after),
        name="outbox-sweep",
    )
    relay = OutboxRelay(
        runtime.pool, runtime.publisher, settings.database_url, settings.outbox_sweep_interval
    )
    if relay_outbox:
        relay.start()
    if extra is not None:
        await extra(worker)
    await stop.wait()
    log.info("stopping: draining in-flight jobs", extra={"in_flight": worker.in_flight})
    await control.stop()
    for task in (unpark, sweep):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await autoscaler.stop()
    await worker.stop()
    await relay.stop()
    await recorder.stop()
    await runtime.close()


async def _unpark_forever(runtime: Runtime, queues: Iterable[Queue]) -> None:
    """Move this worker's parked messages into the failed-job store, now and then."""
    while True:
        await drain_parked(runtime.failed_jobs, runtime.publisher, queues)
        await asyncio.sleep(runtime.settings.park_drain_seconds)
