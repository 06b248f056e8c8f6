"""Pure rules of the tournaments domain: deterministic ids, payloads, messages, job names."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from common.scheduling import registered_schedules, schedule_state_key
from pydantic import ValidationError
from tournaments.contracts import (
    PERIODIC_QUEUES,
    SendEmail,
    advance_message_id,
    bulk_email_id,
    periodic_job_name,
    player_message_id,
    slot_message_id,
)
from tournaments.domain import (
    Player,
    PlayerOfMatch,
    Tournament,
    advance_round,
    bye,
    deadline_warning,
    final_result,
    match_decided,
    match_expired,
    new_match,
)
from tournaments.mailer import compose
from tournaments.scheduled import periodic_jobs, schedule
from tournaments.settings import TournamentSettings


def test_periodic_jobs_use_the_contract_periods_and_queues() -> None:
    jobs = {job.name: job for job in periodic_jobs(300, 900)}
    assert {name: job.every for name, job in jobs.items()} == {
        "check_full": 300,
        "auto_start": 300,
        "expire_matches": 900,
        "warn_deadlines": 900,
    }
    assert all(jobs[name].queue == queue for name, queue in PERIODIC_QUEUES.items())


def test_the_schedule_is_registered_for_the_runtime_scheduler_with_the_same_ids() -> None:
    assert schedule() in registered_schedules()
    assert [job.name for job in schedule().jobs] == list(PERIODIC_QUEUES)
    # The ids and keys of earlier releases: a slot is never run again under a new id, and
    # the ops API still finds the last run.
    assert slot_message_id("check_full", 7) == "500a61b0-8c1b-5c7e-97c4-084155b618ae"
    assert schedule().message_id("check_full", 7) == slot_message_id("check_full", 7)
    assert schedule_state_key("relay:", "check_full") == "relay:schedule:last:check_full"


def test_a_slot_starts_at_a_multiple_of_the_period_also_for_fractions() -> None:
    [job, *_] = periodic_jobs(0.5, 1)
    assert job.slot(10.74) == 21 and job.next_run(10.74) == pytest.approx(11.0)


def test_deterministic_ids_repeat_for_the_same_inputs_and_differ_otherwise() -> None:
    match, player, bulk = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert player_message_id(match, player, "warning") == player_message_id(
        match, player, "warning"
    )
    assert player_message_id(match, player, "warning") != player_message_id(
        match, player, "expired"
    )
    assert bulk_email_id(bulk, player) == bulk_email_id(bulk, player)
    assert slot_message_id("check_full", 7) == slot_message_id("check_full", 7)
    assert slot_message_id("check_full", 7) != slot_message_id("check_full", 8)


@pytest.mark.parametrize("address", ["plain", "a@b@c", "two words@x.test", ""])
def test_send_email_refuses_what_is_not_an_address(address: str) -> None:
    with pytest.raises(ValidationError):
        SendEmail(id=uuid.uuid4(), to=address, subject="s", body="b")


def _player() -> PlayerOfMatch:
    return PlayerOfMatch(
        match_id=uuid.uuid4(),
        player_id=uuid.uuid4(),
        user_id="user-7",
        name="Ada",
        email="ada@example.test",
        tournament_id=uuid.uuid4(),
        tournament="Spring Cup",
        deadline=datetime(2030, 1, 2, 15, 30, tzinfo=UTC),
    )


def test_deadline_warning_is_one_high_priority_notification_and_one_email_with_fixed_ids() -> None:
    player = _player()
    notification, email = deadline_warning(player)
    assert notification.queue.name == "notifications.high"
    assert notification.job.model_dump()["user_id"] == "user-7"
    assert notification.id == notification.job.model_dump()["id"]
    assert email.queue.name == "tournaments.email"
    assert isinstance(email.job, SendEmail) and email.job.to == "ada@example.test"
    assert "2030-01-02 15:30 UTC" in email.job.body
    assert [f.id for f in deadline_warning(player)] == [notification.id, email.id]


def test_match_expired_tells_the_player_in_app_and_by_email() -> None:
    notification, email = match_expired(_player())
    assert notification.queue.name == "notifications.normal"
    assert notification.job_type == "CreateNotification"
    assert email.queue.name == "tournaments.email" and email.job_type == "SendEmail"


def test_match_expired_says_whether_a_one_sided_report_sends_the_player_on() -> None:
    player = _player()
    opponent = uuid.uuid4()
    texts = {
        label: match_expired(replace(player, winner_id=winner))[0].job.model_dump()["message"]
        for label, winner in (("nobody", None), ("me", player.player_id), ("them", opponent))
    }
    assert "Nobody advances" in texts["nobody"]
    assert "you advance" in texts["me"]
    assert "naming your opponent" in texts["them"]


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("check_full", "check_full"),
        ("tournaments.check_full", "check_full"),
        ("tournaments.warn_deadlines", "warn_deadlines"),
        ("tournaments.email", None),
        ("nightly", None),
    ],
)
def test_periodic_jobs_are_named_by_queue_or_short_name(name: str, short: str | None) -> None:
    assert periodic_job_name(name) == short


def test_composed_email_carries_a_message_id_derived_from_the_job() -> None:
    email_id = uuid.uuid4()
    message = compose(TournamentSettings(), email_id, "a@x.test", "Hi", "Body")
    assert message["Message-ID"] == f"<{email_id}@relay>"
    assert message["From"] == "noreply@relay.localhost" and message["To"] == "a@x.test"


def _people() -> tuple[Tournament, Player, Player]:
    return (
        Tournament(uuid.uuid4(), "Spring Cup"),
        Player(uuid.uuid4(), "user-1", "Ada", "ada@example.test"),
        Player(uuid.uuid4(), "user-2", "Bob", "bob@example.test"),
    )


def test_a_new_match_tells_the_player_the_round_opponent_and_deadline_in_app_and_by_email() -> None:
    cup, ada, bob = _people()
    deadline = datetime(2030, 1, 2, 15, 30, tzinfo=UTC)
    notification, email = new_match(cup, 2, uuid.uuid4(), ada, bob, deadline)
    text = notification.job.model_dump()["message"]
    assert "Round 2" in text and "Bob" in text and "2030-01-02 15:30 UTC" in text
    assert notification.job.model_dump()["user_id"] == "user-1"
    assert isinstance(email.job, SendEmail) and email.job.to == "ada@example.test"
    assert email.job.subject.startswith("Spring Cup: ")


def test_a_decided_match_tells_the_winner_of_the_win_and_the_loser_of_the_elimination() -> None:
    cup, ada, bob = _people()
    match_id = uuid.uuid4()
    told = match_decided(cup, 1, match_id, ada, bob)
    by_id = {f.id: f for f in told}
    won = by_id[player_message_id(match_id, ada.id, "won")]
    out = by_id[player_message_id(match_id, bob.id, "eliminated")]
    assert (
        won.job.model_dump()["user_id"] == "user-1"
        and "beat Bob" in won.job.model_dump()["message"]
    )
    assert (
        out.job.model_dump()["user_id"] == "user-2"
        and "Ada beat you" in out.job.model_dump()["message"]
    )
    assert player_message_id(match_id, ada.id, "won-email") in by_id
    assert player_message_id(match_id, bob.id, "eliminated-email") in by_id


def test_the_final_result_names_the_champion_or_says_nobody_was_left() -> None:
    cup, ada, bob = _people()
    [to_ada, _] = final_result(cup, ada, ada)
    [to_bob, _] = final_result(cup, bob, ada)
    [nobody, _] = final_result(cup, bob, None)
    assert to_ada.job.model_dump()["title"] == "You are the champion"
    assert to_bob.job.model_dump()["title"] == "Ada is the champion"
    assert "without a champion" in nobody.job.model_dump()["title"]
    assert to_ada.id == player_message_id(cup.id, ada.id, "final")


def test_a_bye_and_the_advance_job_have_fixed_ids() -> None:
    cup, ada, _ = _people()
    match_id = uuid.uuid4()
    notification, _email = bye(cup, 1, match_id, ada)
    assert notification.id == player_message_id(match_id, ada.id, "bye")
    advance = advance_round(cup.id, 3)
    assert advance.queue.name == "tournaments.advance"
    assert advance.id == advance_message_id(cup.id, 3) == advance_round(cup.id, 3).id
    assert advance.id != advance_message_id(cup.id, 2)
