"""The runtime's scheduler (common.scheduling) with a tournaments job, against real Redis
and RabbitMQ: a failed publish gives the slot back so another replica can run it within
the same slot; a replica that woke a slot late runs the slot it missed, once across
replicas."""

from __future__ import annotations

import time
from typing import Any

from common.scheduling import PeriodicJob, Schedule, Scheduler, SlotLock
from common.topology import Queue, all_queues
from tournaments.contracts import CHECK_FULL, NAMESPACE, slot_message_id

from tests.fakes.tournaments_support import drain


def _scheduler(runtime: Any, job: PeriodicJob) -> Scheduler:
    """The runtime's scheduler for one job, with tournaments' slot message ids."""
    return Scheduler(runtime, [Schedule(NAMESPACE, [job])])


async def test_failed_publish_releases_the_slot_and_another_replica_publishes_it(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    first = await runtime_factory(all_queues())
    second = await runtime_factory(all_queues())
    slot = PeriodicJob("check_full", CHECK_FULL, 3600).slot(time.time())
    # The same job, but routed to an exchange that does not exist: RabbitMQ refuses it.
    unroutable = PeriodicJob("check_full", Queue(CHECK_FULL.name, "no-such-exchange"), 3600)
    job = PeriodicJob("check_full", CHECK_FULL, 3600)

    assert await _scheduler(first, unroutable).run_slot(unroutable, slot) is False
    lock = SlotLock(first.redis, first.settings.redis_key_prefix)
    assert await first.redis.exists(lock.key(job, slot)) == 0

    assert await _scheduler(second, job).run_slot(job, slot) is True
    assert await _scheduler(first, job).run_slot(job, slot) is True  # taken: nothing to do
    [published] = drain(env["RABBITMQ_URL"], CHECK_FULL.name)
    assert published.body == {"job": "check_full", "slot": slot, "requested_by": None}
    assert published.message_id == slot_message_id("check_full", slot)


async def test_a_replica_waking_a_slot_late_runs_the_missed_slot_once_and_no_older_one(
    runtime_factory: Any, env: dict[str, Any]
) -> None:
    first = await runtime_factory(all_queues())
    second = await runtime_factory(all_queues())
    job = PeriodicJob("check_full", CHECK_FULL, 10)
    late, other = _scheduler(first, job), _scheduler(second, job)
    start = (job.slot(time.time()) - 10) * job.every  # slots in the past: no clock to race

    assert await late.tick(start) and await other.tick(start)
    # Both stall past the next boundary; the first wakes two slots on and runs the one
    # nobody ran before the current one; the second, waking then, finds both taken.
    assert await late.tick(start + 2 * job.every)
    assert await other.tick(start + 2 * job.every)
    # A replica asleep for longer catches up one slot only.
    assert await other.tick(start + 6 * job.every)

    slots = [message.body["slot"] for message in drain(env["RABBITMQ_URL"], CHECK_FULL.name)]
    first_slot = job.slot(start)
    assert sorted(slots) == [
        first_slot,
        first_slot + 1,
        first_slot + 2,
        first_slot + 5,
        first_slot + 6,
    ]
