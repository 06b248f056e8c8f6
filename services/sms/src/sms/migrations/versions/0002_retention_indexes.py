"""Indexes retention prunes by: attempt logs and delivery receipts by age.

Deploy step: expand (indexes).

Revision ID: sms_0002
"""

from alembic import op

revision = "sms_0002"
down_revision = "sms_0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE INDEX attempts_attempted_at ON sms.attempts (attempted_at);
        CREATE INDEX receipts_received_at ON sms.receipts (received_at);
        """
    )
