"""Campaigns at scale: progress counts kept on the campaign row, campaign control, and an
index that finds a chunk's queued recipients without scanning the whole campaign.

Before this, a chunk's release looked its queued recipients up through
(campaign_id, status) and filtered `seq` row by row: every release read all the
campaign's still-queued rows, so a campaign of N recipients in chunks of 50 cost O(N²).
(campaign_id, status, seq) makes it a range scan of the chunk alone. Progress was
counted from the recipient rows on every read; a statement-level trigger now keeps the
counts on the campaign row, in the transaction that moves the messages, so they are
exact (total = sent + failed + skipped + pending) and O(1) to read.

Deploy step: expand (columns, a trigger, and an index that replaces the one it drops: the
previous release's queries are served by the new one).

Revision ID: sms_0003
"""

from alembic import op

revision = "sms_0003"
down_revision = "sms_0002"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE sms.campaigns
            ADD COLUMN state text NOT NULL DEFAULT 'running'
                CHECK (state IN ('running', 'paused', 'cancelled')),
            ADD COLUMN sent int NOT NULL DEFAULT 0,
            ADD COLUMN delivered int NOT NULL DEFAULT 0,
            ADD COLUMN failed int NOT NULL DEFAULT 0,
            ADD COLUMN skipped int NOT NULL DEFAULT 0;

        UPDATE sms.campaigns c SET
            sent = m.sent, delivered = m.delivered, failed = m.failed, skipped = m.skipped
        FROM (
            SELECT campaign_id,
                count(*) FILTER (WHERE status IN ('sent', 'delivered')) AS sent,
                count(*) FILTER (WHERE status = 'delivered') AS delivered,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status = 'skipped') AS skipped
            FROM sms.messages WHERE campaign_id IS NOT NULL GROUP BY campaign_id
        ) m
        WHERE m.campaign_id = c.id;

        CREATE INDEX messages_campaign_status_seq ON sms.messages (campaign_id, status, seq)
            WHERE campaign_id IS NOT NULL;
        DROP INDEX sms.messages_campaign_status;

        -- One UPDATE of the campaign row per statement (not per message): a batch of 100
        -- settled messages moves its campaign's counts once.
        CREATE FUNCTION sms.count_campaign_progress() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE sms.campaigns c SET
                sent = c.sent + d.sent,
                delivered = c.delivered + d.delivered,
                failed = c.failed + d.failed,
                skipped = c.skipped + d.skipped
            FROM (
                SELECT n.campaign_id,
                    count(*) FILTER (WHERE n.status IN ('sent', 'delivered'))
                        - count(*) FILTER (WHERE o.status IN ('sent', 'delivered')) AS sent,
                    count(*) FILTER (WHERE n.status = 'delivered')
                        - count(*) FILTER (WHERE o.status = 'delivered') AS delivered,
                    count(*) FILTER (WHERE n.status = 'failed')
                        - count(*) FILTER (WHERE o.status = 'failed') AS failed,
                    count(*) FILTER (WHERE n.status = 'skipped')
                        - count(*) FILTER (WHERE o.status = 'skipped') AS skipped
                FROM changed_new n JOIN changed_old o ON o.id = n.id
                WHERE n.campaign_id IS NOT NULL AND n.status IS DISTINCT FROM o.status
                GROUP BY n.campaign_id
            ) d
            -- queued -> sending moves no count: no write to the campaign row for it.
            WHERE c.id = d.campaign_id
                AND (d.sent <> 0 OR d.delivered <> 0 OR d.failed <> 0 OR d.skipped <> 0);
            RETURN NULL;
        END
        $$;

        CREATE TRIGGER messages_campaign_progress
            AFTER UPDATE ON sms.messages
            REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
            FOR EACH STATEMENT EXECUTE FUNCTION sms.count_campaign_progress();
        """
    )
