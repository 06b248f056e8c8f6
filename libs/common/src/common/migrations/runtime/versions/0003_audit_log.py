"""The audit trail: every admin action and log-in, with who, what, when and from where.

Deploy step: expand (a new table).

Revision ID: runtime_0003
"""

from alembic import op

revision = "runtime_0003"
down_revision = "runtime_0002"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE runtime.audit_log (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            action text NOT NULL,
            target text NOT NULL DEFAULT '',
            origin text NOT NULL DEFAULT '',
            details jsonb NOT NULL DEFAULT '{}'
        );
        CREATE INDEX audit_log_at ON runtime.audit_log (at DESC);
        CREATE INDEX audit_log_actor_at ON runtime.audit_log (actor, at DESC);
        """
    )
