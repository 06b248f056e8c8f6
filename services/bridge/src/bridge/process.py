"""The `bridge` process: consume the Laravel queues (LARAVEL_QUEUES on LARAVEL_RABBITMQ_URL)
and their Relay-side retry queues, hand each job to its domain, until SIGTERM or SIGINT.

Replicas share the queues (each takes up to LARAVEL_PREFETCH unacked messages per queue),
so more throughput is more replicas. Broker and database outages are waited out: the
connections reconnect by themselves and unacked messages are handed over again.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aio_pika.abc import AbstractIncomingMessage
from common.control import WorkerControl
from common.dead_letters import Burial, drain_parked
from common.laravel import LaravelFiles, registered_adapters
from common.lifecycle import LifecycleRecorder
from common.outbox import sweep_forever
from common.runtime import Runtime
from common.topology import Queue, all_queues
from prometheus_client import start_http_server

from .control import BridgeQueues
from .forwarding import Forwarder
from .handover import HandOver
from .intake import QueueConsumer, declare_as_laravel
from .job_map import JobMap
from .queues import laravel_queue_of, retry_queues
from .reports import Reports
from .settings import BridgeSettings
from .settling import Settler

log = logging.getLogger("relay.bridge")


async def run_bridge(settings: BridgeSettings) -> None:
    """Run until SIGTERM or SIGINT, then drain in-flight hand-overs and close."""
    # Built first: a map file that cannot be used stops the process before it connects.
    job_map = JobMap.build(
        registered_adapters(), settings.laravel_job_namespace, settings.laravel_job_map
    )
    names = settings.laravel_queues
    retries = retry_queues(names)
    runtime = await Runtime.start(settings, "bridge", queues=[*all_queues(), *retries])
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not names:
        log.warning(
            "LARAVEL_QUEUES is empty: the bridge idles; set it to the Laravel queues to consume"
        )
        await stop.wait()
        await runtime.close()
        return

    async def from_laravel(queue_name: str, message: AbstractIncomingMessage) -> bool:
        return await settler.settle(queue_name, message)

    async def retried(queue_name: str, message: AbstractIncomingMessage) -> bool:
        return await settler.settle(laravel_queue_of(queue_name), message)

    prefetch = settings.laravel_prefetch
    laravel = QueueConsumer(
        settings.laravel_broker_urls, "relay-bridge-laravel", prefetch, from_laravel
    )
    relay_side = QueueConsumer(settings.broker_urls, "relay-bridge-retries", prefetch, retried)
    forwarder: Forwarder | None = None
    reports = Reports(
        runtime.redis,
        settings.redis_key_prefix,
        names,
        laravel.depth,
        on_relay_broker=settings.on_relay_broker,
    )
    recorder = LifecycleRecorder(
        runtime.redis,
        settings,
        service="bridge",
        status=lambda: (
            {name: settings.laravel_prefetch for name in names},
            laravel.in_flight + relay_side.in_flight,
        ),
    )
    handover = HandOver(
        runtime,
        job_map,
        app_keys=settings.app_keys,
        files=LaravelFiles(settings.storage_root),
        default_user=settings.laravel_default_user,
        forwarding=bool(settings.laravel_unmapped_queue),
    )
    settler = Settler(
        handover,
        Burial(
            runtime.failed_jobs,
            runtime.publisher,
            settings.park_after_seconds,
            stopping=lambda: settler.stopping,
        ),
        reports,
        forwarder=lambda: forwarder,
        recorder=recorder,
    )
    connection = await laravel.connect()
    for name in [*names, *filter(None, [settings.laravel_unmapped_queue])]:
        await declare_as_laravel(connection, name)
    if settings.laravel_unmapped_queue:
        forwarder = Forwarder(connection, settings.laravel_unmapped_queue, settings.publish_timeout)
    await relay_side.connect()  # its queues were declared with Relay's (Runtime.start)
    # Paused queues are read before consuming: a paused queue stays paused across restarts.
    served = BridgeQueues(laravel, relay_side)
    control = WorkerControl(
        served, runtime.redis, settings.redis_key_prefix, service="bridge", on_terminate=stop.set
    )
    paused = await control.initial_paused()
    for name in [*names, *(q.name for q in retries)]:
        consumer = laravel if name in names else relay_side
        await consumer.consume(name, paused=name in paused)
        if name in paused:
            served.paused.add(name)
    await control.listen()
    reports.start()
    recorder.start()
    background = [
        asyncio.create_task(_unpark_forever(runtime, retries), name="unpark"),
        # A hand-over cut short between its commit and the broker's confirm left its job
        # staged: published from here too, not only by the gateway's sweeper.
        asyncio.create_task(
            sweep_forever(
                runtime.outbox, settings.outbox_sweep_interval, settings.outbox_sweep_after
            ),
            name="outbox-sweep",
        ),
    ]
    log.info(
        "bridge consuming",
        extra={
            "queues": names,
            "retry_queues": [q.name for q in retries],
            "unmapped_queue": settings.laravel_unmapped_queue or None,
            "classes": sorted(c for c, m in job_map.mappings.items() if m is not None),
            "prefetch": settings.laravel_prefetch,
            "paused": sorted(served.paused),
        },
    )
    await stop.wait()
    log.info("stopping: draining in-flight Laravel jobs")
    settler.stopping = True
    await control.stop()
    grace = settings.worker_grace_seconds
    await asyncio.gather(laravel.stop(grace), relay_side.stop(grace))
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await reports.stop()
    await recorder.stop()
    await runtime.close()


async def _unpark_forever(runtime: Runtime, queues: list[Queue]) -> None:
    """Move Laravel messages parked while the failed-job store was away into it."""
    while True:
        try:
            await drain_parked(runtime.failed_jobs, runtime.publisher, queues)
        except Exception as trouble:
            log.warning("parked Laravel messages not drained", extra={"error": repr(trouble)})
        await asyncio.sleep(runtime.settings.park_drain_seconds)
