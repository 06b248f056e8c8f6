"""Pure rules of the tournaments worker: what players are told, and in which words."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from common.envelope import Job
from common.topology import Queue
from notifications.contracts import (
    NOTIFICATIONS_HIGH,
    NOTIFICATIONS_NORMAL,
    CreateNotification,
    NotificationType,
    Priority,
)

from .contracts import EMAIL, SendEmail, player_message_id


@dataclass(frozen=True)
class PlayerOfMatch:
    """One player of one match, as the deadline queries return them."""

    match_id: uuid.UUID
    player_id: uuid.UUID
    user_id: str
    name: str
    email: str
    tournament_id: uuid.UUID
    tournament: str
    deadline: datetime


@dataclass(frozen=True)
class FollowUp:
    """A job to publish after the state change that caused it has committed (outbox row)."""

    id: uuid.UUID
    queue: Queue
    job: Job

    @property
    def job_type(self) -> str:
        return type(self.job).__name__


def _when(deadline: datetime) -> str:
    return deadline.strftime("%Y-%m-%d %H:%M UTC")


def deadline_warning(player: PlayerOfMatch) -> list[FollowUp]:
    """A notification (high priority: it is time-bound) and an e-mail for one player."""
    notification_id = player_message_id(player.match_id, player.player_id, "warning")
    email_id = player_message_id(player.match_id, player.player_id, "warning-email")
    text = (
        f"Your match in {player.tournament} must be played before {_when(player.deadline)}. "
        "After that it expires."
    )
    return [
        FollowUp(
            notification_id,
            NOTIFICATIONS_HIGH,
            CreateNotification(
                id=notification_id,
                user_id=player.user_id,
                title="Match deadline approaching",
                message=text,
                type=NotificationType.warning,
                priority=Priority.high,
            ),
        ),
        FollowUp(
            email_id,
            EMAIL,
            SendEmail(
                id=email_id,
                to=player.email,
                subject=f"{player.tournament}: your match deadline is near",
                body=f"Hello {player.name},\n\n{text}\n",
                tournament_id=player.tournament_id,
            ),
        ),
    ]


def match_expired(player: PlayerOfMatch) -> list[FollowUp]:
    """Tell one player their match expired (in-app notification)."""
    notification_id = player_message_id(player.match_id, player.player_id, "expired")
    return [
        FollowUp(
            notification_id,
            NOTIFICATIONS_NORMAL,
            CreateNotification(
                id=notification_id,
                user_id=player.user_id,
                title="Match expired",
                message=(
                    f"Your match in {player.tournament} was not played before its deadline "
                    f"({_when(player.deadline)}) and has expired."
                ),
                type=NotificationType.error,
                priority=Priority.normal,
            ),
        )
    ]
