"""The scheduler: publishes every declared periodic job once per slot across replicas.

Time is cut into slots of each job's period (slot = floor(now / every)). Every replica
wakes at slot boundaries and tries to claim the current slot in Redis (SET NX, keyed by
job and slot); only the winner publishes. A replica that restarts mid-slot finds the slot
claimed (no double run) or claims it then (no skipped run). If the publish fails, the
claim is released so that any replica retries within the same slot. A replica that woke
late, past a whole slot (a stalled process, a starved machine), runs the slot it missed
before the current one, unless another replica had it; older slots are not caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence

from prometheus_client import Counter, start_http_server
from redis.exceptions import RedisError

from ..envelope import Envelope
from ..errors import BrokerUnavailable
from ..runtime import Runtime
from ..settings import RuntimeSettings
from .schedule import RunPeriodic, Schedule, registered_schedules
from .slots import PeriodicJob, SlotLock
from .state import record_run

log = logging.getLogger("relay.scheduler")

PUBLISHED = Counter("relay_schedule_published", "Periodic jobs published, by job", ["job"])
FAILED = Counter("relay_schedule_publish_failed", "Periodic publishes that failed", ["job"])

# Pause before trying again after Redis or RabbitMQ trouble (within the same slot).
RETRY_PAUSE = 0.5
# Longest sleep between ticks, so a clock jump or a released claim is noticed soon.
MAX_SLEEP = 5.0


class Scheduler:
    """Claims and publishes the slots of `schedules`' jobs, for one replica."""

    def __init__(self, runtime: Runtime, schedules: Sequence[Schedule]) -> None:
        self.runtime = runtime
        self.jobs = [job for schedule in schedules for job in schedule.jobs]
        self._schedule_of = {job.name: s for s in schedules for job in s.jobs}
        self.prefix = runtime.settings.redis_key_prefix
        self.lock = SlotLock(runtime.redis, self.prefix)
        # The last slot this replica settled per job (published it, or saw it taken).
        self.settled: dict[str, int] = {}

    async def tick(self, now: float) -> bool:
        """Claim and publish every job's unsettled slots up to the current one; False on
        trouble (the rest is tried again on the next tick)."""
        healthy = True
        for job in self.jobs:
            current = job.slot(now)
            last = self.settled.get(job.name)
            first = current if last is None else max(last + 1, current - 1)
            for slot in range(first, current + 1):
                try:
                    settled = await self.run_slot(job, slot)
                except RedisError as error:
                    log.warning("redis unavailable", extra={"job": job.name, "error": repr(error)})
                    settled = False
                if not settled:
                    healthy = False
                    break
                self.settled[job.name] = slot
        return healthy

    async def run_slot(self, job: PeriodicJob, slot: int) -> bool:
        """Publish `job` for `slot` if this replica wins it; False to retry."""
        if not await self.lock.claim_slot(job, slot):
            return True  # another replica has (or had) this slot
        envelope = Envelope(message_id=self._schedule_of[job.name].message_id(job.name, slot))
        try:
            await self.runtime.publisher.publish(
                job.queue, RunPeriodic(job=job.name, slot=slot), envelope=envelope
            )
        except BrokerUnavailable as error:
            FAILED.labels(job.name).inc()
            log.warning(
                "publish failed; slot released for a retry",
                extra={"job": job.name, "slot": slot, "error": str(error)},
            )
            await self.lock.release(job, slot)
            return False
        PUBLISHED.labels(job.name).inc()
        await record_run(self.runtime.redis, self.prefix, job.name, slot)
        log.info("periodic job published", extra={"job": job.name, "slot": slot})
        return True

    def seconds_to_next(self, now: float) -> float:
        return min(job.next_run(now) for job in self.jobs) - now

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "scheduler running",
            extra={"jobs": {job.name: job.every for job in self.jobs}},
        )
        if not self.jobs:
            log.warning("no periodic job is declared (relay.schedule entry points)")
            await stop.wait()
            return
        while not stop.is_set():
            healthy = await self.tick(time.time())
            pause = RETRY_PAUSE if not healthy else self.seconds_to_next(time.time())
            # A hair past the boundary, so time.time() is inside the new slot on waking.
            pause = min(max(pause, 0.0) + 0.005, MAX_SLEEP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)


async def run_scheduler(settings: RuntimeSettings | None = None) -> None:
    """The `scheduler` process: every declared schedule, until SIGTERM or SIGINT."""
    settings = settings or RuntimeSettings()
    schedules = registered_schedules()
    runtime = await Runtime.start(settings, "scheduler")
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Scheduler(runtime, schedules).run(stop)
    finally:
        await runtime.close()
