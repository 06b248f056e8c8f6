"""What of the notifications schema retention prunes (RETENTION_SSE_REPLAY_DAYS): the
notifications a stream replays after a reconnect (and the listing shows), once that old."""

from __future__ import annotations

from common.retention import TableRule

RULES = (TableRule("sse_replay", "notifications.notifications", "created_at"),)
