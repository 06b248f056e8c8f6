"""Brackets: the current round and champion of a tournament, winners and byes of matches,
players' reports of their own matches.

Deploy step: expand (new tables and columns; two NOT NULLs relaxed, which old writers satisfy).

Revision ID: tournaments_0002
"""

from alembic import op

revision = "tournaments_0002"
down_revision = "tournaments_0001"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE tournaments.tournaments
            -- the latest round created (0: not started, or started and waiting for its
            -- first round); the advance job moves it forward by compare-and-set
            ADD COLUMN round int NOT NULL DEFAULT 0,
            ADD COLUMN champion_id uuid REFERENCES tournaments.players (id),
            ADD COLUMN finished_at timestamptz;
        -- the dashboard counts the tournaments still in play by status and round
        CREATE INDEX tournaments_in_play ON tournaments.tournaments (status, round)
            WHERE status <> 'finished';

        -- a bye is a match row with one player, `done` at once with that player as winner,
        -- so the next round reads every advancing player from one place
        ALTER TABLE tournaments.matches
            ALTER COLUMN player2_id DROP NOT NULL,
            ALTER COLUMN deadline DROP NOT NULL,
            ADD COLUMN winner_id uuid REFERENCES tournaments.players (id),
            ADD COLUMN decided_at timestamptz,
            -- who decided: the organiser's or an admin's user id, 'players' (agreeing
            -- reports), 'bye', or 'deadline' (expired with a one-sided report)
            ADD COLUMN decided_by text,
            ADD CONSTRAINT matches_winner_plays
                CHECK (winner_id IS NULL OR winner_id = player1_id OR winner_id = player2_id),
            ADD CONSTRAINT matches_done_has_winner
                CHECK (status <> 'done' OR winner_id IS NOT NULL),
            ADD CONSTRAINT matches_bye_is_done
                CHECK (player2_id IS NOT NULL OR (status = 'done' AND winner_id = player1_id)),
            ADD CONSTRAINT matches_pending_has_deadline
                CHECK (status <> 'pending' OR deadline IS NOT NULL);

        -- a player's own account of their match: both agreeing decide it; one alone
        -- decides it at the deadline (docs/tournaments.md, "Advancement")
        CREATE TABLE tournaments.match_reports (
            match_id uuid NOT NULL REFERENCES tournaments.matches (id),
            player_id uuid NOT NULL REFERENCES tournaments.players (id),
            winner_id uuid NOT NULL REFERENCES tournaments.players (id),
            user_id text NOT NULL,
            reported_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (match_id, player_id)
        );

        -- Tournaments started before brackets existed: their first round becomes round 1,
        -- and the odd player left without a match gets the bye row the bracket reads.
        UPDATE tournaments.tournaments t SET round = 1
        WHERE t.status = 'started'
          AND EXISTS (SELECT 1 FROM tournaments.matches m WHERE m.tournament_id = t.id);
        INSERT INTO tournaments.matches
            (tournament_id, round, position, player1_id, status, winner_id, decided_at,
             decided_by)
        SELECT p.tournament_id, 1,
               (SELECT max(m.position) + 1 FROM tournaments.matches m
                WHERE m.tournament_id = p.tournament_id AND m.round = 1),
               p.id, 'done', p.id, now(), 'bye'
        FROM tournaments.players p
        JOIN tournaments.tournaments t ON t.id = p.tournament_id AND t.round = 1
        WHERE NOT EXISTS (
            SELECT 1 FROM tournaments.matches m
            WHERE m.tournament_id = p.tournament_id
              AND (m.player1_id = p.id OR m.player2_id = p.id)
        );
        """
    )
