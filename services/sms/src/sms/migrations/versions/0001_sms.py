"""The sms domain's tables: messages, campaigns, attempts, opt-outs, inbound replies, receipts.

Deploy step: expand (creates the schema).

Revision ID: sms_0001
"""

from alembic import op

revision = "sms_0001"
down_revision = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE sms.campaigns (
            id uuid PRIMARY KEY,
            user_id text NOT NULL,
            name text NOT NULL,
            template text NOT NULL,
            total int NOT NULL,
            rejected jsonb NOT NULL DEFAULT '[]',
            chunk_size int,
            released_chunks int NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        -- One row per message, single sends and campaign recipients alike. Campaign
        -- progress is counted from these rows, so total = sent + failed + skipped + pending
        -- holds in every snapshot.
        CREATE TABLE sms.messages (
            id uuid PRIMARY KEY,
            user_id text NOT NULL,
            campaign_id uuid REFERENCES sms.campaigns (id) ON DELETE CASCADE,
            seq int,
            row int,
            to_number text NOT NULL,
            sender text,
            body text NOT NULL,
            segments int NOT NULL,
            encoding text NOT NULL,
            status text NOT NULL DEFAULT 'queued',
            attempts int NOT NULL DEFAULT 0,
            error text,
            provider text,
            provider_id text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX messages_campaign_seq ON sms.messages (campaign_id, seq)
            WHERE campaign_id IS NOT NULL;
        CREATE INDEX messages_campaign_status ON sms.messages (campaign_id, status)
            WHERE campaign_id IS NOT NULL;
        CREATE INDEX messages_provider_id ON sms.messages (provider_id)
            WHERE provider_id IS NOT NULL;

        -- The per-attempt log of the seed system: one row per provider call.
        CREATE TABLE sms.attempts (
            sms_id uuid NOT NULL,
            attempt int NOT NULL,
            provider text NOT NULL,
            outcome text NOT NULL,
            answer text NOT NULL DEFAULT '',
            duration_ms real NOT NULL,
            attempted_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX attempts_sms_id ON sms.attempts (sms_id);

        CREATE TABLE sms.opt_outs (
            user_id text NOT NULL,
            phone text NOT NULL,
            keyword text NOT NULL,
            opted_out_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, phone)
        );

        CREATE TABLE sms.inbound (
            id uuid PRIMARY KEY,
            user_id text NOT NULL,
            from_number text NOT NULL,
            body text NOT NULL,
            keyword text,
            received_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE sms.receipts (
            id bigserial PRIMARY KEY,
            user_id text NOT NULL,
            provider_id text NOT NULL,
            status text NOT NULL,
            applied boolean NOT NULL,
            matched boolean NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX receipts_provider_id ON sms.receipts (provider_id);
        """
    )
