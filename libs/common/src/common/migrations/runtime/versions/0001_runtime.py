"""The runtime's tables: failed jobs and processed messages.

Deploy step: expand (creates the schema).

Revision ID: runtime_0001
"""

from alembic import op

revision = "runtime_0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE runtime.failed_jobs (
            id uuid PRIMARY KEY,
            queue text NOT NULL,
            job_type text NOT NULL DEFAULT '',
            message_id text NOT NULL,
            correlation_id text,
            payload text NOT NULL,
            headers jsonb NOT NULL DEFAULT '{}',
            error text NOT NULL,
            traceback text NOT NULL DEFAULT '',
            attempts int NOT NULL,
            failed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX failed_jobs_queue_failed_at ON runtime.failed_jobs (queue, failed_at DESC);
        CREATE INDEX failed_jobs_failed_at ON runtime.failed_jobs (failed_at DESC);

        CREATE TABLE runtime.processed_messages (
            queue text NOT NULL,
            message_id text NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (queue, message_id)
        );
        CREATE INDEX processed_messages_processed_at ON runtime.processed_messages (processed_at);
        """
    )
