"""SQL of the synchronous match decisions: the organiser's result and the players' reports.

Each runs in one transaction that locks the tournament row first, like the advance job
and expire_matches: decisions within one tournament happen one at a time, so the last
one of a round always sees the others committed and queues the round's advance (two
results completing a round at once cannot both miss it, nor both queue it twice: the
advance job has one id per round). What follows is staged in the runtime's outbox in the
same transaction (the players told, and the advance job once no match of the round is
pending; follow_ups.py): the answer never waits for RabbitMQ, the tournaments workers'
outbox relay publishes them once the transaction commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from common.errors import Conflict, NotFound
from common.runtime import Runtime
from common.web import Caller

from .. import domain
from ..domain import FollowUp, Player, Tournament
from ..follow_ups import stage as stage_follow_ups
from .store import match_view


@dataclass(frozen=True)
class Decision:
    """The match as GET shows it after the request, and the follow-ups it wrote."""

    match: dict[str, Any]
    follow_ups: list[FollowUp]


async def _lock_tournament(
    connection: asyncpg.Connection, tournament_id: uuid.UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        "SELECT id, owner_id, name, status FROM tournaments.tournaments WHERE id = $1 FOR UPDATE",
        tournament_id,
    )
    return row


async def _pending_match(
    connection: asyncpg.Connection, tournament_id: uuid.UUID, match_id: uuid.UUID
) -> asyncpg.Record:
    """The match with both its players, if it is pending; NotFound or Conflict otherwise."""
    match = await connection.fetchrow(
        """
        SELECT m.id, m.round, m.position, m.status, m.deadline, m.player1_id, m.player2_id,
               p1.user_id AS user1, p1.name AS name1, p1.email AS email1,
               p2.user_id AS user2, p2.name AS name2, p2.email AS email2
        FROM tournaments.matches m
        JOIN tournaments.players p1 ON p1.id = m.player1_id
        LEFT JOIN tournaments.players p2 ON p2.id = m.player2_id
        WHERE m.id = $1 AND m.tournament_id = $2
        """,
        match_id,
        tournament_id,
    )
    if match is None:
        raise NotFound("no such match in this tournament")
    if match["status"] != "pending":
        raise Conflict(
            f"the match is {match['status']}; only a pending match takes a result "
            "(GET the tournament for its current round)"
        )
    return match


def _check_plays(match: asyncpg.Record, player_id: uuid.UUID, role: str) -> None:
    if player_id not in (match["player1_id"], match["player2_id"]):
        raise Conflict(
            f"the {role} must be one of the match's players: "
            f"{match['player1_id']} or {match['player2_id']}"
        )


async def _decide(
    connection: asyncpg.Connection,
    tournament: asyncpg.Record,
    match: asyncpg.Record,
    winner_id: uuid.UUID,
    decided_by: str,
) -> list[FollowUp]:
    """Mark the match done; tell both players; queue the advance if the round is settled."""
    # One statement: the UPDATE, and whether another match of the round is still pending
    # (the UPDATE is not visible to the statement's own snapshot, hence `id <> $1`).
    others_pending = await connection.fetchval(
        """
        WITH decided AS (
            UPDATE tournaments.matches
            SET status = 'done', winner_id = $2, decided_at = now(), decided_by = $3
            WHERE id = $1
        )
        SELECT EXISTS (
            SELECT 1 FROM tournaments.matches
            WHERE tournament_id = $4 AND round = $5 AND status = 'pending' AND id <> $1
        )
        """,
        match["id"],
        winner_id,
        decided_by,
        tournament["id"],
        match["round"],
    )
    first = Player(match["player1_id"], match["user1"], match["name1"], match["email1"])
    second = Player(match["player2_id"], match["user2"], match["name2"], match["email2"])
    winner, loser = (first, second) if winner_id == first.id else (second, first)
    follow_ups = domain.match_decided(
        Tournament(tournament["id"], tournament["name"]), match["round"], match["id"], winner, loser
    )
    if not others_pending:
        follow_ups.append(domain.advance_round(tournament["id"], match["round"]))
    return follow_ups


async def _view(
    connection: asyncpg.Connection, match: asyncpg.Record, winner_id: uuid.UUID | None
) -> dict[str, Any]:
    """The match as GET shows it after this request (decided when `winner_id` is set)."""
    reports = await connection.fetch(
        """
        SELECT match_id, player_id, winner_id, reported_at FROM tournaments.match_reports
        WHERE match_id = $1 ORDER BY reported_at, player_id
        """,
        match["id"],
    )
    now = {**dict(match), "winner_id": winner_id, "status": "done" if winner_id else "pending"}
    return match_view(now, reports)


async def record_result(
    runtime: Runtime,
    tournament_id: uuid.UUID,
    match_id: uuid.UUID,
    winner_id: uuid.UUID,
    caller: Caller,
) -> Decision:
    """The organiser (or an admin) decides a pending match."""
    async with runtime.pool.acquire() as connection, connection.transaction():
        tournament = await _lock_tournament(connection, tournament_id)
        if tournament is None or not (caller.admin or tournament["owner_id"] == caller.id):
            raise NotFound("no such tournament (results are recorded by its organiser)")
        match = await _pending_match(connection, tournament_id, match_id)
        _check_plays(match, winner_id, "winner")
        follow_ups = await _decide(connection, tournament, match, winner_id, caller.id)
        await stage_follow_ups(runtime, connection, follow_ups)
        return Decision(await _view(connection, match, winner_id), follow_ups)


async def record_report(
    runtime: Runtime,
    tournament_id: uuid.UUID,
    match_id: uuid.UUID,
    player_id: uuid.UUID,
    winner_id: uuid.UUID,
    caller: Caller,
) -> Decision:
    """A player's account of their own match (replacing their earlier one).

    Both players naming the same winner decide the match; a report alone decides it only
    when the deadline passes (expire_matches); disagreeing reports leave it to the
    organiser.
    """
    async with runtime.pool.acquire() as connection, connection.transaction():
        tournament = await _lock_tournament(connection, tournament_id)
        reporter = await connection.fetchval(
            """
            SELECT id FROM tournaments.players
            WHERE id = $1 AND tournament_id = $2 AND user_id = $3
            """,
            player_id,
            tournament_id,
            caller.id,
        )
        if tournament is None or reporter is None:
            raise NotFound("no such player of yours in this tournament")
        match = await _pending_match(connection, tournament_id, match_id)
        _check_plays(match, player_id, "reporting player")
        _check_plays(match, winner_id, "winner")
        await connection.execute(
            """
            INSERT INTO tournaments.match_reports (match_id, player_id, winner_id, user_id)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (match_id, player_id)
            DO UPDATE SET winner_id = excluded.winner_id, user_id = excluded.user_id,
                          reported_at = now()
            """,
            match_id,
            player_id,
            winner_id,
            caller.id,
        )
        named = await connection.fetch(
            "SELECT winner_id FROM tournaments.match_reports WHERE match_id = $1", match_id
        )
        follow_ups: list[FollowUp] = []
        agreed = len(named) == 2 and named[0]["winner_id"] == named[1]["winner_id"]
        if agreed:
            follow_ups = await _decide(connection, tournament, match, winner_id, "players")
        await stage_follow_ups(runtime, connection, follow_ups)
        return Decision(await _view(connection, match, winner_id if agreed else None), follow_ups)
