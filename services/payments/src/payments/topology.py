"""The payments exchange and its queues: one per provider's webhook events."""

from __future__ import annotations

from common.topology import domain

DOMAIN = domain(
    "payments",
    stripe="verified Stripe webhook events, applied to their payment once",
    monetbil="verified Monetbil callbacks, confirmed with checkPayment, applied once",
)
STRIPE, MONETBIL = DOMAIN.queues
