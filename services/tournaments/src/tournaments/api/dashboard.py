"""The tournaments panel of the dashboard: tournaments not finished, by status and round."""

from __future__ import annotations

from common.runtime import Runtime
from pydantic import BaseModel


class StatusRound(BaseModel):
    status: str
    round: int
    tournaments: int
    # Matches still waiting for a result in that round, and the nearest deadline.
    pending_matches: int
    next_deadline: str | None = None


class TournamentsInPlay(BaseModel):
    available: bool
    note: str = ""
    rows: list[StatusRound] = []
    finished: int = 0


async def tournaments_in_play(runtime: Runtime) -> TournamentsInPlay:
    """Counts of open, full and started tournaments (started ones per round), from one
    grouped query on the partial index of tournaments in play."""
    async with runtime.pool.acquire() as connection:
        table = await connection.fetchval("SELECT to_regclass('tournaments.match_reports')::text")
        if table is None:
            return TournamentsInPlay(available=False, note="the tournaments schema is not migrated")
        rows = await connection.fetch(
            """
            WITH in_play AS (
                SELECT id, status, round FROM tournaments.tournaments
                WHERE status <> 'finished'
            )
            SELECT t.status, t.round, count(*) AS tournaments,
                   coalesce(sum(m.pending), 0) AS pending_matches,
                   min(m.next_deadline) AS next_deadline
            FROM in_play t
            LEFT JOIN LATERAL (
                SELECT count(*) AS pending, min(deadline) AS next_deadline
                FROM tournaments.matches
                WHERE tournament_id = t.id AND round = t.round AND status = 'pending'
            ) m ON t.status = 'started'
            GROUP BY t.status, t.round
            ORDER BY array_position(ARRAY['open', 'full', 'started'], t.status), t.round
            """
        )
        finished = await connection.fetchval(
            "SELECT count(*) FROM tournaments.tournaments WHERE status = 'finished'"
        )
    return TournamentsInPlay(
        available=True,
        rows=[
            StatusRound(
                status=row["status"],
                round=row["round"],
                tournaments=row["tournaments"],
                pending_matches=row["pending_matches"],
                next_deadline=(
                    row["next_deadline"].strftime("%Y-%m-%d %H:%M UTC")
                    if row["next_deadline"]
                    else None
                ),
            )
            for row in rows
        ],
        finished=finished,
    )
