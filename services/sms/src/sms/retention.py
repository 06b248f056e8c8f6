"""What of the sms schema retention prunes (RETENTION_ATTEMPT_LOGS_DAYS): the log of every
provider call, and delivery receipts, matched or not, once they are that old."""

from __future__ import annotations

from common.retention import TableRule

RULES = (
    TableRule("attempt_logs", "sms.attempts", "attempted_at"),
    TableRule("attempt_logs", "sms.receipts", "received_at"),
)
