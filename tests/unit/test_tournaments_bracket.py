"""The single-elimination rules (tournaments/bracket.py): seats, byes, rounds, champion."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tournaments.bracket import Finish, Slot, bracket_size, first_round, next_step, total_rounds


def _seats(n: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=i + 1) for i in range(n)]


@pytest.mark.parametrize(
    ("players", "size", "rounds"), [(2, 2, 1), (3, 4, 2), (5, 8, 3), (8, 8, 3), (16, 16, 4)]
)
def test_bracket_size_and_rounds_round_up_to_a_power_of_two(
    players: int, size: int, rounds: int
) -> None:
    assert bracket_size(players) == size and total_rounds(players) == rounds


def test_five_players_get_three_byes_then_the_field_is_four() -> None:
    seats = _seats(5)
    assert first_round(seats) == [
        Slot(0, (seats[0],)),
        Slot(1, (seats[1],)),
        Slot(2, (seats[2],)),
        Slot(3, (seats[3], seats[4])),
    ]


@given(st.integers(min_value=2, max_value=200))
def test_first_round_seats_everyone_once_with_the_byes_first(players: int) -> None:
    seats = _seats(players)
    slots = first_round(seats)
    size = bracket_size(players)
    assert Counter(p for slot in slots for p in slot.players) == Counter(seats)
    assert [slot.position for slot in slots] == list(range(size // 2))
    byes = [slot for slot in slots if slot.bye]
    assert len(byes) == size - players
    assert [slot.players[0] for slot in byes] == seats[: len(byes)]


def test_one_player_left_before_the_final_is_champion_and_none_left_means_none() -> None:
    survivor = uuid.uuid4()
    assert next_step(1, 8, {3: survivor}) == Finish(survivor)
    assert next_step(2, 16, {}) == Finish(None)


def test_the_final_winner_is_champion() -> None:
    winner = uuid.uuid4()
    assert next_step(3, 8, {0: winner}) == Finish(winner)


def test_an_expired_match_leaves_a_hole_that_gives_its_neighbour_a_bye() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # Round 1 of 8: position 1 expired with nobody going on.
    assert next_step(1, 8, {0: a, 2: b, 3: c}) == [Slot(0, (a,)), Slot(1, (b, c))]


# Each match's outcome in a simulated tournament: the first player wins, the second wins,
# or the match expires and sends nobody on.
OUTCOMES = st.sampled_from(["first", "second", "expired"])


def _play(
    players: int, outcomes: st.DataObject, expiries: bool
) -> tuple[Finish, Counter[uuid.UUID], int]:
    """Play a tournament with these rules; returns the finish, byes per player, rounds."""
    byes: Counter[uuid.UUID] = Counter()
    step: list[Slot] | Finish = first_round(_seats(players))
    rounds = 0
    while not isinstance(step, Finish):
        rounds += 1
        advancing: dict[int, uuid.UUID] = {}
        for slot in step:
            if slot.bye:
                byes[slot.players[0]] += 1
                advancing[slot.position] = slot.players[0]
                continue
            outcome = outcomes.draw(OUTCOMES if expiries else st.sampled_from(["first", "second"]))
            if outcome != "expired":
                advancing[slot.position] = slot.players[0 if outcome == "first" else 1]
        step = next_step(rounds, players, advancing)
    return step, byes, rounds


@given(st.integers(min_value=2, max_value=70), st.data())
def test_every_result_played_ends_with_a_champion_after_log2_rounds_and_one_bye_at_most(
    players: int, outcomes: st.DataObject
) -> None:
    finish, byes, rounds = _play(players, outcomes, expiries=False)
    assert finish.champion in _seats(players)
    assert rounds == total_rounds(players)
    assert max(byes.values(), default=0) <= 1


@given(st.integers(min_value=2, max_value=70), st.data())
def test_expired_matches_still_end_the_tournament_within_its_rounds(
    players: int, outcomes: st.DataObject
) -> None:
    finish, _, rounds = _play(players, outcomes, expiries=True)
    assert finish.champion is None or finish.champion in _seats(players)
    assert rounds <= total_rounds(players)
