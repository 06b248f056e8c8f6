"""API keys get an id, a scope, a name, an expiry, revocation, rotation and last use.

Existing keys keep working: an admin key becomes scope `admin`, any other `user`; each
gets an id derived from its hash (the id is what `relay keys list` shows; the key never).

Deploy step: expand and contract at once (it drops `admin`): written before the one-release rule
(docs/upgrading.md); the release that carried it replaced every gateway at once.

Revision ID: gateway_0002
"""

from alembic import op

revision = "gateway_0002"
down_revision = "gateway_0001"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE gateway.api_keys
            ADD COLUMN id text,
            ADD COLUMN scope text NOT NULL DEFAULT 'user',
            ADD COLUMN name text NOT NULL DEFAULT '',
            ADD COLUMN expires_at timestamptz,
            ADD COLUMN revoked_at timestamptz,
            ADD COLUMN last_used_at timestamptz,
            ADD COLUMN rotated_from text,
            ADD COLUMN created_by text NOT NULL DEFAULT '';
        UPDATE gateway.api_keys
            SET id = 'k' || substr(key_hash, 1, 12),
                scope = CASE WHEN admin THEN 'admin' ELSE 'user' END;
        ALTER TABLE gateway.api_keys
            ALTER COLUMN id SET NOT NULL,
            ADD CONSTRAINT api_keys_id UNIQUE (id),
            ADD CONSTRAINT api_keys_scope CHECK (scope IN ('user', 'service', 'admin')),
            DROP COLUMN admin;
        CREATE INDEX api_keys_created_at ON gateway.api_keys (created_at DESC);
        """
    )
