"""Tournaments across the release that moved their outbox and scheduler into the runtime.

The previous release keeps follow-ups in `tournaments.outbox` (published by a relay in its
tournaments workers) and runs `python -m tournaments.scheduler`; this one stages them in
`runtime.outbox` and runs `python -m common.scheduling`. Side by side on one broker and
database, as during a rolling deploy:

- a match the old gateway decides after the last old worker stopped leaves rows no old
  relay will publish: this release's worker adopts them, and the tournament plays on;
- an old and a new scheduler publish each slot once, with the same message ids.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from tournaments.contracts import PERIODIC_QUEUES, player_message_id, slot_message_id

from tests.fakes.tournaments_play import enter, finished, pending_round, post_result
from tests.fakes.tournaments_play import start as start_tournaments
from tests.fakes.tournaments_smtp import SmtpSink
from tests.fakes.tournaments_support import Drained, drain, log_lines, start
from tests.support import ADMIN_KEY, Stack, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


def _count(env: dict[str, Any], query: str) -> int:
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        row = connection.execute(query).fetchone()
        return int(row[0]) if row else 0


def _logged(release: Stack, message: str) -> bool:
    """Whether the scheduler of `release` logged `message` since it started."""
    return any(entry.get("msg") == message for entry in log_lines(release, "scheduler"))


UNPUBLISHED_OLD = "SELECT count(*) FROM tournaments.outbox WHERE published_at IS NULL"


def test_follow_ups_the_previous_release_left_unpublished_reach_the_players_once(
    stack: Stack, old: Stack, env: dict[str, Any], sink: SmtpSink
) -> None:
    settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": sink.port, "EMAIL_RATE_PER_MINUTE": 600_000}
    old.start("gateway", **settings)
    old.start("tournaments", **settings)
    old.wait_ready()
    old.wait_consuming("tournaments.advance")
    stack.start("gateway", **settings)  # migrates under the running old processes
    stack.wait_ready()

    with old.client() as old_organiser, old.client(ADMIN_KEY) as old_admin:
        cup = enter(old_organiser, 4)
        start_tournaments(old_admin)
        # Round 1 announced by the old worker, through its own outbox and relay.
        first, second = pending_round(old_organiser, cup.id, 1)
        eventually(lambda: _count(env, UNPUBLISHED_OLD) == 0, timeout=30)
        assert old.terminate("tournaments") == 0, old.tail("tournaments")
        # No old relay left: the old gateway's decision waits in the old outbox.
        decided = post_result(old_organiser, cup.id, first["id"], first["players"][0])
        assert decided.status_code == 200, decided.text
        assert _count(env, UNPUBLISHED_OLD) == 4  # both players, in-app and by e-mail

    # This release's worker adopts them at start-up (older than OUTBOX_SWEEP_AFTER).
    stack.start("tournaments", OUTBOX_SWEEP_AFTER="0.5", **settings)
    stack.wait_consuming("tournaments.advance")
    eventually(lambda: _count(env, UNPUBLISHED_OLD) == 0, timeout=60)

    with stack.client() as organiser:
        assert post_result(organiser, cup.id, second["id"], second["players"][0]).status_code == 200
        [final] = pending_round(organiser, cup.id, 2)
        assert post_result(organiser, cup.id, final["id"], final["players"][0]).status_code == 200
        assert finished(organiser, cup.id)["champion"] == first["players"][0]
    eventually(lambda: _count(env, "SELECT count(*) FROM runtime.outbox") == 0, timeout=30)

    players = [uuid.UUID(p) for p in cup.players]
    expected: Counter[str] = Counter()
    for match in (first, second, final):
        seated = [uuid.UUID(p) for p in match["players"]]
        for player in seated:
            won = player == seated[0]
            for kind in ("match", "won" if won else "eliminated"):
                expected[str(player_message_id(uuid.UUID(match["id"]), player, kind))] += 1
    for player in players:
        expected[str(player_message_id(uuid.UUID(cup.id), player, "final"))] += 1
    told = Counter(
        message.message_id
        for queue in ("notifications.normal", "notifications.high")
        for message in drain(env["RABBITMQ_URL"], queue)
    )
    assert told == expected
    assert "Traceback" not in stack.tail("tournaments", 400), stack.tail("tournaments")


def test_an_old_and_a_new_scheduler_publish_each_slot_once_with_the_same_ids(
    stack: Stack, old: Stack, env: dict[str, Any]
) -> None:
    every_second = {"TOURNAMENTS_EVERY": "1", "DEADLINES_EVERY": "1"}
    old.start("gateway")  # brings the schema up to date for the old processes
    old.wait_ready()
    # The old one runs first, as in a rolling deploy (the previous release cannot start
    # on a database this release migrated: it does not know the newer revision).
    start(old, "scheduler", **every_second)
    eventually(lambda: _logged(old, "scheduler running"), timeout=60)
    start(stack, "scheduler", **every_second)

    drained: dict[str, list[Drained]] = {queue.name: [] for queue in PERIODIC_QUEUES.values()}

    def fewest_published() -> int:
        for name, taken in drained.items():
            taken += drain(env["RABBITMQ_URL"], name)
        return min(len(taken) for taken in drained.values())

    eventually(lambda: fewest_published() >= 8, timeout=90, interval=0.5)
    assert old.terminate("scheduler") == 0
    assert stack.terminate("scheduler") == 0
    # Both took part: each won slots of its own.
    for release in (old, stack):
        assert _logged(release, "periodic job published"), release.tail("scheduler")
    for job, queue in PERIODIC_QUEUES.items():
        messages = drained[queue.name] + drain(env["RABBITMQ_URL"], queue.name)
        slots = Counter(message.body["slot"] for message in messages)
        assert max(slots.values()) == 1, f"{job}: a slot published twice: {slots}"
        for message in messages:
            assert message.message_id == slot_message_id(job, message.body["slot"])
    assert "Traceback" not in stack.tail("scheduler", 400), stack.tail("scheduler")
