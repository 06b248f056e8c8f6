"""SQL the gateway runs on the tournaments schema: create, join, read (the bracket too),
bulk e-mail. Match results and reports are in decisions.py."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from common.errors import Conflict, NotFound

from ..bracket import total_rounds


async def create(
    pool: asyncpg.Pool,
    owner_id: str,
    name: str,
    capacity: int,
    starts_at: datetime | None,
    match_deadline_minutes: int,
) -> uuid.UUID:
    tournament_id = uuid.uuid4()
    await pool.execute(
        """
        INSERT INTO tournaments.tournaments
            (id, owner_id, name, capacity, starts_at, match_deadline_minutes)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        tournament_id,
        owner_id,
        name,
        capacity,
        starts_at,
        match_deadline_minutes,
    )
    return tournament_id


async def join(
    pool: asyncpg.Pool,
    tournament_id: uuid.UUID,
    user_id: str,
    admin: bool,
    name: str,
    email: str,
) -> uuid.UUID:
    """Seat a player: one UPDATE takes the seat only while the tournament is open and
    has room (row lock: two concurrent joins for the last seat cannot both win).

    Anyone with the id may take a free seat; why there is none (full, started) is told only
    to those who may see the tournament (`visible`): to anyone else it does not exist."""
    player_id = uuid.uuid4()
    async with pool.acquire() as connection, connection.transaction():
        seated = await connection.fetchrow(
            """
            UPDATE tournaments.tournaments
            SET player_count = player_count + 1,
                status = CASE WHEN player_count + 1 >= capacity THEN 'full' ELSE status END
            WHERE id = $1 AND status = 'open' AND player_count < capacity
            RETURNING id
            """,
            tournament_id,
        )
        if seated is None:
            status = await connection.fetchval(
                f"SELECT t.status FROM tournaments.tournaments t WHERE t.id = $1 AND {_VISIBLE}",
                tournament_id,
                user_id,
                admin,
            )
            if status is None:
                raise NotFound("no such tournament")
            if status in ("open", "full"):
                raise Conflict("the tournament is full")
            raise Conflict(f"the tournament has {status}; players can no longer join")
        try:
            await connection.execute(
                """
                INSERT INTO tournaments.players (id, tournament_id, user_id, name, email)
                VALUES ($1, $2, $3, $4, $5)
                """,
                player_id,
                tournament_id,
                user_id,
                name,
                email,
            )
        except asyncpg.UniqueViolationError as taken:
            raise Conflict(f"{email} already plays in this tournament") from taken
    return player_id


# Who may see tournament `t`: an admin ($3), its organiser or a user who registered one of
# its players ($2). Anyone else is told it does not exist, whatever its state.
_VISIBLE = """(
    $3
    OR t.owner_id = $2
    OR EXISTS (SELECT 1 FROM tournaments.players p WHERE p.tournament_id = t.id AND p.user_id = $2)
)"""


async def visible(
    pool: asyncpg.Pool, tournament_id: uuid.UUID, user_id: str, admin: bool = False
) -> asyncpg.Record:
    """The tournament if `user_id` organises it or plays in it (an admin sees any);
    NotFound otherwise."""
    row = await pool.fetchrow(
        f"SELECT t.* FROM tournaments.tournaments t WHERE t.id = $1 AND {_VISIBLE}",
        tournament_id,
        user_id,
        admin,
    )
    if row is None:
        raise NotFound("no such tournament")
    return row


async def owned(
    pool: asyncpg.Pool, tournament_id: uuid.UUID, owner_id: str | None
) -> asyncpg.Record:
    """The tournament if `owner_id` owns it (None: whoever owns it)."""
    row = await pool.fetchrow(
        "SELECT * FROM tournaments.tournaments"
        " WHERE id = $1 AND ($2::text IS NULL OR owner_id = $2)",
        tournament_id,
        owner_id,
    )
    if row is None:
        raise NotFound("no such tournament")
    return row


def match_view(match: Mapping[str, Any], reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A match as the API shows it: a bye has one player and is `done` with them as winner."""
    players = [p for p in (match["player1_id"], match["player2_id"]) if p is not None]
    return {
        "id": match["id"],
        "round": match["round"],
        "position": match["position"],
        "players": players,
        "status": match["status"],
        "deadline": match["deadline"],
        "winner": match["winner_id"],
        "bye": len(players) == 1,
        "reports": [
            {"player": r["player_id"], "winner": r["winner_id"], "reported_at": r["reported_at"]}
            for r in reports
            if r["match_id"] == match["id"]
        ],
    }


async def _matches(pool: asyncpg.Pool, tournament_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every match of the tournament in bracket order (round, then position)."""
    async with pool.acquire() as connection:
        matches = await connection.fetch(
            """
            SELECT id, round, position, player1_id, player2_id, status, deadline, winner_id
            FROM tournaments.matches WHERE tournament_id = $1 ORDER BY round, position
            """,
            tournament_id,
        )
        reports = await connection.fetch(
            """
            SELECT r.match_id, r.player_id, r.winner_id, r.reported_at
            FROM tournaments.match_reports r
            JOIN tournaments.matches m ON m.id = r.match_id
            WHERE m.tournament_id = $1 ORDER BY r.reported_at, r.player_id
            """,
            tournament_id,
        )
    return [match_view(m, reports) for m in matches]


async def details(
    pool: asyncpg.Pool, tournament: asyncpg.Record, caller_id: str, admin: bool
) -> dict[str, Any]:
    """The tournament as `caller_id` may see it: players' e-mails for its organiser and
    admins only; other players see names."""
    players = await pool.fetch(
        """
        SELECT id, name, email, joined_at FROM tournaments.players
        WHERE tournament_id = $1 ORDER BY joined_at, id
        """,
        tournament["id"],
    )
    shown: tuple[str, ...] = ("id", "name", "email", "joined_at")
    if not (admin or tournament["owner_id"] == caller_id):
        shown = ("id", "name", "joined_at")
    return {
        "id": tournament["id"],
        "name": tournament["name"],
        "capacity": tournament["capacity"],
        "status": tournament["status"],
        "starts_at": tournament["starts_at"],
        "started_at": tournament["started_at"],
        "finished_at": tournament["finished_at"],
        "match_deadline_minutes": tournament["match_deadline_minutes"],
        "round": tournament["round"],
        "champion": tournament["champion_id"],
        "players": [{column: p[column] for column in shown} for p in players],
        "matches": await _matches(pool, tournament["id"]),
    }


async def bracket(pool: asyncpg.Pool, tournament: asyncpg.Record) -> dict[str, Any]:
    """The rounds in order, each with its matches by position (byes included)."""
    rounds: dict[int, list[dict[str, Any]]] = {}
    for match in await _matches(pool, tournament["id"]):
        rounds.setdefault(match["round"], []).append(match)
    return {
        "id": tournament["id"],
        "status": tournament["status"],
        "round": tournament["round"],
        "rounds_total": total_rounds(tournament["player_count"]),
        "champion": tournament["champion_id"],
        "rounds": [{"round": number, "matches": rounds[number]} for number in sorted(rounds)],
    }


async def recipients(pool: asyncpg.Pool, tournament_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT id, email FROM tournaments.players WHERE tournament_id = $1 ORDER BY joined_at",
        tournament_id,
    )
    return rows


async def record_bulk_email(
    connection: asyncpg.Connection,
    bulk_id: uuid.UUID,
    tournament_id: uuid.UUID,
    owner_id: str,
    subject: str,
    body: str,
    count: int,
) -> None:
    """Keep what was sent to whom; a retried request (same id) records nothing new."""
    await connection.execute(
        """
        INSERT INTO tournaments.bulk_emails (id, tournament_id, owner_id, subject, body, recipients)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (id) DO NOTHING
        """,
        bulk_id,
        tournament_id,
        owner_id,
        subject,
        body,
        count,
    )
