"""SQL of round advancement: read a settled round, create the next one, or finish.

Runs in the `tournaments.advance` job, one tournament and one round per job. The
tournament row is locked (FOR UPDATE) and the step is taken only while the tournament is
still at the round the job names: a second delivery, a second worker or a repeated
trigger of the same round finds the round already moved on and changes nothing. Every
result, report and expiry locks the same row first, so "is the round settled?" is always
answered on committed data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
from common.errors import Permanent

from . import bracket, domain
from .domain import FollowUp, Player, Tournament


@dataclass
class Advanced:
    """What one advance did: the rounds it created and the follow-ups they cause."""

    created: list[int] = field(default_factory=list)
    finished: bool = False
    champion: uuid.UUID | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)


async def _players(connection: asyncpg.Connection, tournament_id: uuid.UUID) -> list[Player]:
    rows = await connection.fetch(
        """
        SELECT id, user_id, name, email FROM tournaments.players
        WHERE tournament_id = $1 ORDER BY joined_at, id
        """,
        tournament_id,
    )
    return [Player(r["id"], r["user_id"], r["name"], r["email"]) for r in rows]


async def _advancing(
    connection: asyncpg.Connection, tournament_id: uuid.UUID, round_number: int
) -> dict[int, uuid.UUID] | None:
    """Who goes on from each position of the round; None while a match is pending."""
    rows = await connection.fetch(
        """
        SELECT position, status, winner_id FROM tournaments.matches
        WHERE tournament_id = $1 AND round = $2
        """,
        tournament_id,
        round_number,
    )
    if any(row["status"] == "pending" for row in rows):
        return None
    return {row["position"]: row["winner_id"] for row in rows if row["winner_id"] is not None}


async def _create_round(
    connection: asyncpg.Connection,
    tournament: asyncpg.Record,
    round_number: int,
    slots: Sequence[bracket.Slot],
) -> list[asyncpg.Record]:
    """Insert the round's matches (pending, with a fresh deadline) and byes (done)."""
    rows: list[asyncpg.Record] = await connection.fetch(
        """
        INSERT INTO tournaments.matches
            (tournament_id, round, position, player1_id, player2_id, status, deadline,
             winner_id, decided_at, decided_by)
        SELECT $1, $2, slot.position, slot.player1, slot.player2,
               CASE WHEN slot.player2 IS NULL THEN 'done' ELSE 'pending' END,
               CASE WHEN slot.player2 IS NOT NULL
                    THEN now() + make_interval(mins => $3) END,
               CASE WHEN slot.player2 IS NULL THEN slot.player1 END,
               CASE WHEN slot.player2 IS NULL THEN now() END,
               CASE WHEN slot.player2 IS NULL THEN 'bye' END
        FROM unnest($4::int[], $5::uuid[], $6::uuid[]) AS slot (position, player1, player2)
        RETURNING id, position, player1_id, player2_id, deadline
        """,
        tournament["id"],
        round_number,
        tournament["match_deadline_minutes"],
        [slot.position for slot in slots],
        [slot.players[0] for slot in slots],
        [slot.players[1] if not slot.bye else None for slot in slots],
    )
    return rows


def _announce(
    tournament: Tournament,
    round_number: int,
    created: Sequence[asyncpg.Record],
    players: dict[uuid.UUID, Player],
) -> list[FollowUp]:
    """Each player of a new match is told of it and its deadline; a bye, of the bye."""
    told: list[FollowUp] = []
    for match in created:
        first = players[match["player1_id"]]
        if match["player2_id"] is None:
            told += domain.bye(tournament, round_number, match["id"], first)
            continue
        second = players[match["player2_id"]]
        for player, opponent in ((first, second), (second, first)):
            told += domain.new_match(
                tournament, round_number, match["id"], player, opponent, match["deadline"]
            )
    return told


async def advance(
    connection: asyncpg.Connection, tournament_id: uuid.UUID, round_number: int
) -> Advanced | None:
    """Move the tournament on from settled round `round_number` (0: its start).

    None when there is nothing to do: the tournament is not at that round any more (a
    repeat), or the round still has a pending match (it is advanced when it settles).
    Creates the next round, and the one after while a round holds only byes, or finishes
    the tournament with its champion.
    """
    tournament = await connection.fetchrow(
        """
        SELECT id, name, status, round, player_count, match_deadline_minutes
        FROM tournaments.tournaments WHERE id = $1 FOR UPDATE
        """,
        tournament_id,
    )
    if tournament is None:
        raise Permanent(f"no tournament {tournament_id}")
    if tournament["status"] != "started" or tournament["round"] != round_number:
        return None
    roster = await _players(connection, tournament_id)
    players = {player.id: player for player in roster}
    about = Tournament(tournament["id"], tournament["name"])
    step: list[bracket.Slot] | bracket.Finish
    if round_number == 0:
        step = bracket.first_round([player.id for player in roster])
    else:
        advancing = await _advancing(connection, tournament_id, round_number)
        if advancing is None:
            return None
        step = bracket.next_step(round_number, len(roster), advancing)

    done = Advanced()
    current = round_number
    while not isinstance(step, bracket.Finish):
        current += 1
        created = await _create_round(connection, tournament, current, step)
        done.created.append(current)
        done.follow_ups += _announce(about, current, created, players)
        if not all(slot.bye for slot in step):
            break
        # Only byes (matches lost to deadlines left holes): the round is settled already.
        step = bracket.next_step(current, len(roster), {s.position: s.players[0] for s in step})

    if isinstance(step, bracket.Finish):
        done.finished, done.champion = True, step.champion
        champion = players.get(step.champion) if step.champion else None
        for player in roster:
            done.follow_ups += domain.final_result(about, player, champion)
    await connection.execute(
        """
        UPDATE tournaments.tournaments
        SET round = $2,
            status = CASE WHEN $3 THEN 'finished' ELSE status END,
            champion_id = $4,
            finished_at = CASE WHEN $3 THEN now() END
        WHERE id = $1
        """,
        tournament_id,
        current,
        done.finished,
        done.champion,
    )
    return done
