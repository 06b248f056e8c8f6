"""The notifications exchange and its queues: high before normal, images on their own."""

from __future__ import annotations

from common.topology import domain

DOMAIN = domain(
    "notifications",
    high="high-priority notifications: stored, then pushed live (consumed before normal)",
    normal="notifications: stored, then pushed live to the user's streams",
    image="image variants: EXIF orientation, resize within the box, thumbnail",
)
NOTIFICATIONS_HIGH, NOTIFICATIONS_NORMAL, NOTIFICATIONS_IMAGE = DOMAIN.queues
