"""The payments exchange and its queues: one per provider's webhook events."""

from __future__ import annotations

from common.topology import domain

DOMAIN = domain("payments", "stripe", "monetbil")
STRIPE, MONETBIL = DOMAIN.queues
