"""The gateway's tables: hashed API keys.

Deploy step: expand (creates the schema).

Revision ID: gateway_0001
"""

from alembic import op

revision = "gateway_0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE gateway.api_keys (
            key_hash text PRIMARY KEY,
            user_id text NOT NULL,
            admin boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )
