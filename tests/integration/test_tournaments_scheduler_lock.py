"""The scheduler's slot claim against real Redis and RabbitMQ: a failed publish gives the
slot back so another replica can run it within the same slot."""

from __future__ import annotations

import time
from typing import Any

from common.schedule import PeriodicJob, SlotLock
from common.topology import Queue, all_queues
from tournaments.contracts import CHECK_FULL
from tournaments.scheduler import Scheduler

from tests.fakes.tournaments_support import drain


async def test_failed_publish_releases_the_slot_and_another_replica_publishes_it(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    first = await runtime_factory(all_queues())
    second = await runtime_factory(all_queues())
    now = time.time()
    # The same job, but routed to an exchange that does not exist: RabbitMQ refuses it.
    unroutable = PeriodicJob("check_full", Queue(CHECK_FULL.name, "no-such-exchange"), 3600)
    job = PeriodicJob("check_full", CHECK_FULL, 3600)

    assert await Scheduler(first, [unroutable]).run_slot(unroutable, now) is False
    lock = SlotLock(first.redis, first.settings.redis_key_prefix)
    assert await first.redis.exists(lock.key(job, job.slot(now))) == 0

    assert await Scheduler(second, [job]).run_slot(job, now) is True
    assert await Scheduler(first, [job]).run_slot(job, now) is True  # taken: nothing to do
    [published] = drain(env["RABBITMQ_URL"], CHECK_FULL.name)
    assert published.body == {"job": "check_full", "slot": job.slot(now), "requested_by": None}
