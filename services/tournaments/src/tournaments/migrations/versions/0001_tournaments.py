"""Tournaments, players, matches, deadline warnings, the outbox and sent e-mails.

Deploy step: expand (creates the schema).

Revision ID: tournaments_0001
"""

from alembic import op

revision = "tournaments_0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE tournaments.tournaments (
            id uuid PRIMARY KEY,
            owner_id text NOT NULL,
            name text NOT NULL,
            capacity int NOT NULL CHECK (capacity BETWEEN 2 AND 1024),
            status text NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'full', 'started', 'finished')),
            starts_at timestamptz,
            match_deadline_minutes int NOT NULL CHECK (match_deadline_minutes > 0),
            -- kept in step with the players table by the join statement, so a join can
            -- check capacity and claim a seat in one atomic UPDATE
            player_count int NOT NULL DEFAULT 0 CHECK (player_count <= capacity),
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz
        );
        -- the periodic jobs only look at tournaments that have not started yet
        CREATE INDEX tournaments_waiting ON tournaments.tournaments (status, starts_at)
            WHERE status IN ('open', 'full');

        CREATE TABLE tournaments.players (
            id uuid PRIMARY KEY,
            tournament_id uuid NOT NULL REFERENCES tournaments.tournaments (id),
            user_id text NOT NULL,
            name text NOT NULL,
            email text NOT NULL,
            joined_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE UNIQUE INDEX players_one_seat_per_email
            ON tournaments.players (tournament_id, lower(email));
        CREATE INDEX players_by_user ON tournaments.players (user_id);

        CREATE TABLE tournaments.matches (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tournament_id uuid NOT NULL REFERENCES tournaments.tournaments (id),
            round int NOT NULL,
            position int NOT NULL,
            player1_id uuid NOT NULL REFERENCES tournaments.players (id),
            player2_id uuid NOT NULL REFERENCES tournaments.players (id),
            status text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'done', 'expired')),
            deadline timestamptz NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expired_at timestamptz,
            -- a second auto_start run can never create a match twice
            UNIQUE (tournament_id, round, position)
        );
        CREATE INDEX matches_pending_by_deadline ON tournaments.matches (deadline)
            WHERE status = 'pending';

        -- one warning per match and player, enforced by the database
        CREATE TABLE tournaments.deadline_warnings (
            match_id uuid NOT NULL REFERENCES tournaments.matches (id),
            player_id uuid NOT NULL REFERENCES tournaments.players (id),
            warned_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (match_id, player_id)
        );

        -- transactional outbox: follow-up jobs written with the state change that causes
        -- them, published after commit, swept again by the next run if publishing failed
        CREATE TABLE tournaments.outbox (
            id uuid PRIMARY KEY,
            queue text NOT NULL,
            job_type text NOT NULL,
            payload text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        );
        CREATE INDEX outbox_unpublished ON tournaments.outbox (created_at)
            WHERE published_at IS NULL;

        CREATE TABLE tournaments.bulk_emails (
            id uuid PRIMARY KEY,
            tournament_id uuid NOT NULL REFERENCES tournaments.tournaments (id),
            owner_id text NOT NULL,
            subject text NOT NULL,
            body text NOT NULL,
            recipients int NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        -- every e-mail job by its deterministic id: the e-mail job's idempotency record
        CREATE TABLE tournaments.emails (
            id uuid PRIMARY KEY,
            recipient text NOT NULL,
            subject text NOT NULL,
            status text NOT NULL CHECK (status IN ('sending', 'sent', 'rejected')),
            claimed_until timestamptz NOT NULL,
            attempts int NOT NULL DEFAULT 1,
            error text,
            sent_at timestamptz
        );
        """
    )
