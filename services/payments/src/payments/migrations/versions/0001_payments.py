"""Payments, provider events as received, and the events that changed a payment.

Deploy step: expand (creates the schema).

Revision ID: payments_0001
"""

from alembic import op

revision = "payments_0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE payments.payments (
            id uuid PRIMARY KEY,
            user_id text NOT NULL,
            amount bigint NOT NULL CHECK (amount > 0),
            currency text NOT NULL,
            provider text NOT NULL CHECK (provider IN ('stripe', 'monetbil')),
            reference text NOT NULL,
            status text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
            flag text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX payments_user_created ON payments.payments (user_id, created_at DESC);

        -- Every verified provider event, stored before its job is published: the
        -- (provider, event_id) key makes a redelivered webhook a no-op.
        CREATE TABLE payments.webhook_events (
            provider text NOT NULL,
            event_id text NOT NULL,
            type text NOT NULL,
            payload jsonb NOT NULL,
            payment_id uuid,
            transaction_id text,
            received_at timestamptz NOT NULL DEFAULT now(),
            processed_at timestamptz,
            -- applied | ignored | unmatched | stale | flagged
            outcome text,
            PRIMARY KEY (provider, event_id)
        );
        CREATE INDEX webhook_events_unprocessed ON payments.webhook_events (received_at)
            WHERE processed_at IS NULL;

        -- One row per status change; an event can change a payment at most once, and a
        -- payment reaches each status at most once (the machine only moves forward).
        CREATE TABLE payments.payment_events (
            seq bigserial PRIMARY KEY,
            payment_id uuid NOT NULL REFERENCES payments.payments (id),
            provider text NOT NULL,
            event_id text NOT NULL,
            type text NOT NULL,
            from_status text NOT NULL,
            to_status text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            UNIQUE (provider, event_id),
            UNIQUE (payment_id, to_status)
        );
        """
    )
