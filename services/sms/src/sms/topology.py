"""The sms exchange and its queues: single sends, campaign batches, campaign releases."""

from __future__ import annotations

from common.topology import domain

DOMAIN = domain("sms", "send", "bulk", "campaign")
SMS_SEND, SMS_BULK, SMS_CAMPAIGN = DOMAIN.queues
