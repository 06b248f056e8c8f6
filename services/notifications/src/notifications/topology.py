"""The notifications exchange and its queues: high before normal, images on their own."""

from __future__ import annotations

from common.topology import domain

DOMAIN = domain("notifications", "high", "normal", "image")
NOTIFICATIONS_HIGH, NOTIFICATIONS_NORMAL, NOTIFICATIONS_IMAGE = DOMAIN.queues
