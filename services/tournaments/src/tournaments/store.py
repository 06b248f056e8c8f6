"""SQL of the tournaments schema for the worker: set-based, one statement per step.

Each periodic step is a single UPDATE ... RETURNING or INSERT ... SELECT, whatever the
number of tournaments or matches: no query per row. Each is safe to run twice (its WHERE
clause no longer matches what a previous run changed) and safe to run concurrently (row
locks make a second UPDATE re-check its WHERE clause; unique keys absorb repeats).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from .domain import PlayerOfMatch


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


async def start_due(connection: asyncpg.Connection) -> list[uuid.UUID]:
    """Start full tournaments (and open ones past `starts_at` with 2+ players).

    One UPDATE claims them; each one's first round is created by its `tournaments.advance`
    job (round 0), so a run that starts a thousand tournaments does not wait for the
    thousands of messages that announce their matches. Returns the started ids.
    """
    rows = await connection.fetch(
        """
        UPDATE tournaments.tournaments SET status = 'started', started_at = now()
        WHERE status = 'full'
           OR (status = 'open' AND starts_at <= now() AND player_count >= 2)
        RETURNING id
        """
    )
    return [row["id"] for row in rows]


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
        winner_id=row.get("winner_id"),
    )


async def expire_past_deadline(connection: asyncpg.Connection) -> list[PlayerOfMatch]:
    """Pending matches past their deadline become `expired`; returns both players of each.

    Call in a transaction. Their tournaments are locked first, in id order (results,
    reports and the advance job lock the same row, so whether a round is settled is
    decided on committed data, and two runs never deadlock). A match that exactly one of
    its players reported goes to the winner that report names (`winner_id`); any other
    expired match sends nobody on.
    """
    locked = await connection.fetch(
        """
        SELECT t.id FROM tournaments.tournaments t
        WHERE t.id IN (
            SELECT m.tournament_id FROM tournaments.matches m
            WHERE m.status = 'pending' AND m.deadline <= now()
        )
        ORDER BY t.id
        FOR UPDATE
        """
    )
    if not locked:
        return []
    rows = await connection.fetch(
        f"""
        WITH expired AS (
            UPDATE tournaments.matches m
            SET status = 'expired', expired_at = now(), decided_at = now(),
                decided_by = 'deadline',
                winner_id = (
                    SELECT (array_agg(r.winner_id))[1] FROM tournaments.match_reports r
                    WHERE r.match_id = m.id HAVING count(*) = 1
                )
            WHERE m.status = 'pending' AND m.deadline <= now()
              AND m.tournament_id = ANY($1::uuid[])
            RETURNING id, tournament_id, player1_id, player2_id, deadline, winner_id
        )
        SELECT m.id AS match_id, p.id AS player_id, p.user_id, p.name, p.email,
               t.id AS tournament_id, t.name AS tournament, m.deadline, m.winner_id
        FROM expired m {_PLAYERS_OF}
        """,
        [row["id"] for row in locked],
    )
    return [_player(row) for row in rows]


async def settled_rounds(
    connection: asyncpg.Connection, tournament_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, int]]:
    """(tournament, round) of those started tournaments whose current round has no
    pending match left: each needs its `tournaments.advance`."""
    rows = await connection.fetch(
        """
        SELECT t.id, t.round FROM tournaments.tournaments t
        WHERE t.id = ANY($1::uuid[]) AND t.status = 'started' AND t.round > 0
          AND NOT EXISTS (
              SELECT 1 FROM tournaments.matches m
              WHERE m.tournament_id = t.id AND m.round = t.round AND m.status = 'pending'
          )
        """,
        list(tournament_ids),
    )
    return [(row["id"], row["round"]) for row in rows]


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
