"""The notifications domain's tables: notifications, per-user sequences, images.

Deploy step: expand (creates the schema).

Revision ID: notifications_0001
"""

from alembic import op

revision = "notifications_0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        -- One row per user; taking its row lock to number a notification makes one
        -- user's notifications commit in `seq` order, which SSE replay relies on.
        CREATE TABLE notifications.user_sequences (
            user_id text PRIMARY KEY,
            last_seq bigint NOT NULL
        );

        CREATE TABLE notifications.notifications (
            id uuid PRIMARY KEY,
            user_id text NOT NULL,
            seq bigint NOT NULL,
            title text NOT NULL,
            message text NOT NULL,
            type text NOT NULL,
            priority text NOT NULL,
            read_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (user_id, seq)
        );
        CREATE INDEX notifications_unread
            ON notifications.notifications (user_id, seq DESC) WHERE read_at IS NULL;

        CREATE TABLE notifications.images (
            id uuid PRIMARY KEY,
            user_id text NOT NULL,
            status text NOT NULL DEFAULT 'queued',
            error text,
            format text NOT NULL,
            original_bytes bigint NOT NULL,
            width int NOT NULL,
            height int NOT NULL,
            quality int NOT NULL,
            large_width int,
            large_height int,
            thumb_width int,
            thumb_height int,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX images_user ON notifications.images (user_id, created_at DESC);
        """
    )
