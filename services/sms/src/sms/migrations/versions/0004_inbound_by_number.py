"""Expand: find the users who messaged a number (a Twilio inbound STOP concerns them).

Deploy step: expand (an index only; the previous release runs unchanged beside it).
Not CONCURRENTLY: processes starting together wait for this one under the migration
advisory lock inside a transaction, which a concurrent index build would wait for in turn.

Revision ID: sms_0004
"""

from alembic import op

revision = "sms_0004"
down_revision = "sms_0003"


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS messages_to_number_user ON sms.messages (to_number, user_id)"
    )
