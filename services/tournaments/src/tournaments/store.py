"""SQL of the tournaments schema for the worker: set-based, one statement per step.

Each periodic step is a single UPDATE ... RETURNING or INSERT ... SELECT, whatever the
number of tournaments or matches: no query per row. Each is safe to run twice (its WHERE
clause no longer matches what a previous run changed) and safe to run concurrently (row
locks make a second UPDATE re-check its WHERE clause; unique keys absorb repeats).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from .domain import FollowUp, PlayerOfMatch


async def mark_full(connection: asyncpg.Connection) -> int:
    """Open tournaments whose seats are all taken become `full`."""
    rows = await connection.fetch(
        """
        UPDATE tournaments.tournaments SET status = 'full'
        WHERE status = 'open' AND player_count >= capacity
        RETURNING id
        """
    )
    return len(rows)


async def start_due(connection: asyncpg.Connection) -> tuple[int, int]:
    """Start full tournaments (and open ones past `starts_at` with 2+ players).

    One statement: the UPDATE claims the tournaments, the players are seated by join order
    and paired 1 v 2, 3 v 4, ... (an odd last player gets a bye), and the first-round
    matches are inserted with their deadlines. Returns (tournaments, matches).
    """
    row = await connection.fetchrow(
        """
        WITH starting AS (
            UPDATE tournaments.tournaments SET status = 'started', started_at = now()
            WHERE status = 'full'
               OR (status = 'open' AND starts_at <= now() AND player_count >= 2)
            RETURNING id, match_deadline_minutes
        ), seated AS (
            SELECT p.id, p.tournament_id, s.match_deadline_minutes,
                   row_number() OVER (
                       PARTITION BY p.tournament_id ORDER BY p.joined_at, p.id
                   ) - 1 AS seat
            FROM tournaments.players p JOIN starting s ON s.id = p.tournament_id
        ), paired AS (
            SELECT tournament_id, seat / 2 AS position, match_deadline_minutes,
                   array_agg(id ORDER BY seat) AS pair
            FROM seated
            GROUP BY tournament_id, seat / 2, match_deadline_minutes
            HAVING count(*) = 2
        ), created AS (
            INSERT INTO tournaments.matches
                (tournament_id, round, position, player1_id, player2_id, deadline)
            SELECT tournament_id, 1, position, pair[1], pair[2],
                   now() + make_interval(mins => match_deadline_minutes)
            FROM paired
            ON CONFLICT (tournament_id, round, position) DO NOTHING
            RETURNING id
        )
        SELECT (SELECT count(*) FROM starting) AS started,
               (SELECT count(*) FROM created) AS matches
        """
    )
    assert row is not None
    return int(row["started"]), int(row["matches"])


# The two players of a match as rows: (match, player) pairs joined to what we tell them.
_PLAYERS_OF = """
    CROSS JOIN LATERAL (VALUES (m.player1_id), (m.player2_id)) AS seat (player_id)
    JOIN tournaments.players p ON p.id = seat.player_id
    JOIN tournaments.tournaments t ON t.id = m.tournament_id
"""


def _player(row: asyncpg.Record) -> PlayerOfMatch:
    return PlayerOfMatch(
        match_id=row["match_id"],
        player_id=row["player_id"],
        user_id=row["user_id"],
        name=row["name"],
        email=row["email"],
        tournament_id=row["tournament_id"],
        tournament=row["tournament"],
        deadline=row["deadline"],
    )


async def expire_past_deadline(connection: asyncpg.Connection) -> list[PlayerOfMatch]:
    """Pending matches past their deadline become `expired`; returns both players of each."""
    rows = await connection.fetch(
        f"""
        WITH expired AS (
            UPDATE tournaments.matches SET status = 'expired', expired_at = now()
            WHERE status = 'pending' AND deadline <= now()
            RETURNING id, tournament_id, player1_id, player2_id, deadline
        )
        SELECT m.id AS match_id, p.id AS player_id, p.user_id, p.name, p.email,
               t.id AS tournament_id, t.name AS tournament, m.deadline
        FROM expired m {_PLAYERS_OF}
        """
    )
    return [_player(row) for row in rows]


async def record_deadline_warnings(
    connection: asyncpg.Connection, window_seconds: float
) -> list[PlayerOfMatch]:
    """Record a warning for each player of a pending match due within the window.

    Returns only the warnings recorded now: a (match, player) warned before is skipped by
    the primary key (ON CONFLICT DO NOTHING), so running twice warns nobody twice.
    """
    rows = await connection.fetch(
        f"""
        WITH due AS (
            SELECT m.id AS match_id, p.id AS player_id, p.user_id, p.name, p.email,
                   t.id AS tournament_id, t.name AS tournament, m.deadline
            FROM tournaments.matches m {_PLAYERS_OF}
            WHERE m.status = 'pending'
              AND m.deadline > now()
              AND m.deadline <= now() + make_interval(secs => $1)
        ), warned AS (
            INSERT INTO tournaments.deadline_warnings (match_id, player_id)
            SELECT match_id, player_id FROM due
            ON CONFLICT DO NOTHING
            RETURNING match_id, player_id
        )
        SELECT due.* FROM due JOIN warned USING (match_id, player_id)
        """,
        window_seconds,
    )
    return [_player(row) for row in rows]


async def add_to_outbox(connection: asyncpg.Connection, follow_ups: Sequence[FollowUp]) -> None:
    """Write follow-up jobs in the caller's transaction (one statement for all of them)."""
    if not follow_ups:
        return
    await connection.execute(
        """
        INSERT INTO tournaments.outbox (id, queue, job_type, payload)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
        ON CONFLICT (id) DO NOTHING
        """,
        [f.id for f in follow_ups],
        [f.queue.name for f in follow_ups],
        [f.job_type for f in follow_ups],
        [f.job.model_dump_json() for f in follow_ups],
    )


@dataclass(frozen=True)
class OutboxEntry:
    id: uuid.UUID
    queue: str
    job_type: str
    payload: str


async def lock_unpublished(connection: asyncpg.Connection, limit: int) -> list[OutboxEntry]:
    """Unpublished outbox rows, locked for this transaction (SKIP LOCKED: no two
    workers publish the same batch at once)."""
    rows = await connection.fetch(
        """
        SELECT id, queue, job_type, payload FROM tournaments.outbox
        WHERE published_at IS NULL
        ORDER BY created_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return [OutboxEntry(r["id"], r["queue"], r["job_type"], r["payload"]) for r in rows]


async def mark_published(connection: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> None:
    await connection.execute(
        "UPDATE tournaments.outbox SET published_at = now() WHERE id = ANY($1::uuid[])", ids
    )


async def prune_outbox(connection: asyncpg.Connection, keep_seconds: float = 86_400) -> None:
    """Forget rows published more than a day ago (their ids live on in the consumers)."""
    await connection.execute(
        """
        DELETE FROM tournaments.outbox
        WHERE published_at < now() - make_interval(secs => $1)
        """,
        keep_seconds,
    )


# ------------------------------------------------------------------------------ e-mails


async def email_sent(pool: asyncpg.Pool, email_id: uuid.UUID) -> bool:
    status = await pool.fetchval("SELECT status FROM tournaments.emails WHERE id = $1", email_id)
    return status in ("sent", "rejected")


async def claim_email(
    pool: asyncpg.Pool, email_id: uuid.UUID, recipient: str, subject: str, lease: float
) -> tuple[bool, float]:
    """Claim the right to send `email_id` for `lease` seconds.

    Returns (claimed, seconds until the current holder's lease ends). Not claimed with 0
    means it is already sent or rejected; not claimed with a wait means another delivery
    of the same job is sending it right now.
    """
    row = await pool.fetchrow(
        """
        INSERT INTO tournaments.emails (id, recipient, subject, status, claimed_until)
        VALUES ($1, $2, $3, 'sending', clock_timestamp() + make_interval(secs => $4))
        ON CONFLICT (id) DO UPDATE
            SET claimed_until = clock_timestamp() + make_interval(secs => $4),
                attempts = tournaments.emails.attempts + 1
            WHERE tournaments.emails.status = 'sending'
              AND tournaments.emails.claimed_until < clock_timestamp()
        RETURNING id
        """,
        email_id,
        recipient,
        subject,
        lease,
    )
    if row is not None:
        return True, 0.0
    holder = await pool.fetchrow(
        """
        SELECT status,
               greatest(0, extract(epoch FROM claimed_until - clock_timestamp())) AS wait
        FROM tournaments.emails WHERE id = $1
        """,
        email_id,
    )
    if holder is None or holder["status"] != "sending":
        return False, 0.0
    return False, max(0.1, float(holder["wait"]))


async def finish_email(
    pool: asyncpg.Pool, email_id: uuid.UUID, status: str, error: str | None = None
) -> None:
    """Record the outcome: `sent`, `rejected` (final), or `sending` with the claim released."""
    await pool.execute(
        """
        UPDATE tournaments.emails
        SET status = $2, error = $3,
            sent_at = CASE WHEN $2 = 'sent' THEN clock_timestamp() END,
            claimed_until = clock_timestamp()
        WHERE id = $1
        """,
        email_id,
        status,
        error,
    )
