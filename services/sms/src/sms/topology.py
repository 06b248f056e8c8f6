"""The sms exchange and its queues: single sends, campaign batches, campaign releases."""

from __future__ import annotations

from common.topology import domain

DOMAIN = domain(
    "sms",
    send="one SMS to one number (POST /v1/sms), ahead of any campaign backlog",
    bulk="campaign messages in batches, paced per user and throttled per provider",
    campaign="a campaign's release: one chunk's send jobs, then the next chunk's release",
)
SMS_SEND, SMS_BULK, SMS_CAMPAIGN = DOMAIN.queues
