"""Failed jobs keep their exact bytes; the outbox of write-then-publish paths.

A failed job's body was stored as text, which Postgres cannot do for bytes that are not
UTF-8 or that contain NUL: such a message could never be buried. The exact bytes now
live in `body` (bytea); `payload` is a safe text preview of them (`payload_exact` when it
is the body itself).

Deploy step: expand (adds columns and a table; nothing the previous release reads goes away).

Revision ID: runtime_0002
"""

from alembic import op

revision = "runtime_0002"
down_revision = "runtime_0001"


def upgrade() -> None:
    op.execute(
        """
        -- Null in rows written before (or by a writer that knows only `payload`): their
        -- body is the payload's text, which the store reads in its place.
        ALTER TABLE runtime.failed_jobs
            ADD COLUMN body bytea,
            ADD COLUMN body_size int,
            ADD COLUMN payload_exact boolean NOT NULL DEFAULT true;

        -- Jobs written in the same transaction as the rows that cause them and published
        -- after commit; a row still here after a while was not confirmed and is swept.
        CREATE TABLE runtime.outbox (
            id uuid PRIMARY KEY,
            exchange text NOT NULL,
            routing_key text NOT NULL,
            message_id text NOT NULL,
            job_type text NOT NULL,
            correlation_id text,
            headers jsonb NOT NULL DEFAULT '{}',
            body bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempts int NOT NULL DEFAULT 0,
            last_error text
        );
        CREATE INDEX outbox_created_at ON runtime.outbox (created_at);
        """
    )
