"""Single elimination as pure rules: seats, byes, the next round, the champion.

The bracket is a binary tree laid out by rounds. Round r has `size / 2**r` positions
(`size` = the player count rounded up to a power of two); the match at position p of
round r feeds position p // 2 of round r + 1. A position with two advancing players is a
match; with one it is a bye (that player advances at once); with none it is left out.

First round: the `size - n` byes go to the first seats (join order), one each, so that
after round 1 the field is a power of two and nobody gets a second bye unless an expired
match leaves a hole in the tree. The advancement rule itself (who a settled match sends
on) is written in docs/tournaments.md and decided where matches are settled.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """One position of a round: a match of two players, or a bye of one."""

    position: int
    players: tuple[uuid.UUID, ...]

    @property
    def bye(self) -> bool:
        return len(self.players) == 1


@dataclass(frozen=True)
class Finish:
    """The tournament is over: its champion, or None when no player is left standing."""

    champion: uuid.UUID | None


def bracket_size(players: int) -> int:
    """The player count rounded up to a power of two (2 for fewer than 2)."""
    size = 2
    while size < players:
        size *= 2
    return size


def total_rounds(players: int) -> int:
    """Rounds to a champion when no match is lost to a deadline: log2 of the bracket size."""
    return bracket_size(players).bit_length() - 1


def first_round(seats: Sequence[uuid.UUID]) -> list[Slot]:
    """Round 1: the first `size - n` seats get a bye each, the others are paired in order."""
    size = bracket_size(len(seats))
    byes = size - len(seats)
    slots = [Slot(position, (seats[position],)) for position in range(byes)]
    rest = seats[byes:]
    slots += [Slot(byes + i // 2, (rest[i], rest[i + 1])) for i in range(0, len(rest) - 1, 2)]
    return slots


def next_step(
    round_number: int, players: int, advancing: Mapping[int, uuid.UUID]
) -> list[Slot] | Finish:
    """What follows settled round `round_number`, given who advances from each position.

    The tournament finishes when the final was played, or when one player or none is
    left (the others lost, or their matches expired without a winner). Otherwise the
    next round pairs positions 2q and 2q + 1 into position q.
    """
    if round_number >= total_rounds(players) or len(advancing) <= 1:
        return Finish(next(iter(advancing.values()), None))
    slots: dict[int, list[uuid.UUID]] = {}
    for position in sorted(advancing):
        slots.setdefault(position // 2, []).append(advancing[position])
    return [Slot(position, tuple(seated)) for position, seated in sorted(slots.items())]
