"""Outbox entries a relay publishes as soon as they commit (expand only).

A writer that must not publish itself (a request that answers once committed) stages its
jobs `by_relay`: the relays that LISTEN for the outbox's NOTIFY publish them at once, and
the sweeper, as before, whatever is left. A writer of the previous release does not know
the column: its entries are not relayed (the default), exactly as before.

Deploy step: expand (a column with a default and an index).

Revision ID: runtime_0004
"""

from alembic import op

revision = "runtime_0004"
down_revision = "runtime_0003"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE runtime.outbox ADD COLUMN by_relay boolean NOT NULL DEFAULT false;
        CREATE INDEX outbox_by_relay ON runtime.outbox (created_at) WHERE by_relay;
        """
    )
