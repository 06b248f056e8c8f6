"""SQL the gateway runs on the tournaments schema: create, join, read, bulk e-mail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from common.errors import Conflict, NotFound


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
    pool: asyncpg.Pool, tournament_id: uuid.UUID, user_id: str, name: str, email: str
) -> uuid.UUID:
    """Seat a player: one UPDATE takes the seat only while the tournament is open and
    has room (row lock: two concurrent joins for the last seat cannot both win)."""
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
                "SELECT status FROM tournaments.tournaments WHERE id = $1", tournament_id
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


async def visible(pool: asyncpg.Pool, tournament_id: uuid.UUID, user_id: str) -> asyncpg.Record:
    """The tournament if `user_id` organises it or plays in it; NotFound otherwise."""
    row = await pool.fetchrow(
        """
        SELECT t.* FROM tournaments.tournaments t
        WHERE t.id = $1 AND (
            t.owner_id = $2
            OR EXISTS (SELECT 1 FROM tournaments.players p
                       WHERE p.tournament_id = t.id AND p.user_id = $2)
        )
        """,
        tournament_id,
        user_id,
    )
    if row is None:
        raise NotFound("no such tournament")
    return row


async def owned(pool: asyncpg.Pool, tournament_id: uuid.UUID, owner_id: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT * FROM tournaments.tournaments WHERE id = $1 AND owner_id = $2",
        tournament_id,
        owner_id,
    )
    if row is None:
        raise NotFound("no such tournament")
    return row


async def details(pool: asyncpg.Pool, tournament: asyncpg.Record) -> dict[str, Any]:
    players = await pool.fetch(
        """
        SELECT id, name, email, joined_at FROM tournaments.players
        WHERE tournament_id = $1 ORDER BY joined_at, id
        """,
        tournament["id"],
    )
    matches = await pool.fetch(
        """
        SELECT id, round, position, player1_id, player2_id, status, deadline
        FROM tournaments.matches WHERE tournament_id = $1 ORDER BY round, position
        """,
        tournament["id"],
    )
    return {
        "id": tournament["id"],
        "name": tournament["name"],
        "capacity": tournament["capacity"],
        "status": tournament["status"],
        "starts_at": tournament["starts_at"],
        "started_at": tournament["started_at"],
        "match_deadline_minutes": tournament["match_deadline_minutes"],
        "players": [dict(p) for p in players],
        "matches": [
            {
                "id": m["id"],
                "round": m["round"],
                "players": [m["player1_id"], m["player2_id"]],
                "status": m["status"],
                "deadline": m["deadline"],
            }
            for m in matches
        ],
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
