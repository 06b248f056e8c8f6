"""The index retention prunes by: notifications (the rows SSE replays) by age.

Deploy step: expand (an index).

Revision ID: notifications_0002
"""

from alembic import op

revision = "notifications_0002"
down_revision = "notifications_0001"


def upgrade() -> None:
    op.execute(
        "CREATE INDEX notifications_created_at ON notifications.notifications (created_at);"
    )
