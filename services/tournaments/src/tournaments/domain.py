"""Pure rules of the tournaments worker: what players are told, and in which words.

Every message is a notification and an e-mail with deterministic ids (the player, what
it is about, and its kind), used as message ids: a message staged twice in the outbox,
published twice or delivered twice still reaches the player once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from common.envelope import Envelope, Job
from common.topology import Queue
from notifications.contracts import (
    NOTIFICATIONS_HIGH,
    NOTIFICATIONS_NORMAL,
    CreateNotification,
    NotificationType,
    Priority,
)

from .contracts import (
    ADVANCE,
    EMAIL,
    AdvanceRound,
    SendEmail,
    advance_message_id,
    player_message_id,
)


@dataclass(frozen=True)
class Player:
    """A player as we address them: in-app (the user who registered them) and by e-mail."""

    id: uuid.UUID
    user_id: str
    name: str
    email: str


@dataclass(frozen=True)
class Tournament:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class PlayerOfMatch:
    """One player of one match, as the deadline queries return them.

    `winner_id` is set on an expired match that a one-sided report decided.
    """

    match_id: uuid.UUID
    player_id: uuid.UUID
    user_id: str
    name: str
    email: str
    tournament_id: uuid.UUID
    tournament: str
    deadline: datetime
    winner_id: uuid.UUID | None = None


@dataclass(frozen=True)
class FollowUp:
    """A job to publish after the state change that caused it has committed: staged in
    the runtime's outbox in that transaction, published with `id` as its message id."""

    id: uuid.UUID
    queue: Queue
    job: Job

    @property
    def job_type(self) -> str:
        return type(self.job).__name__

    def for_outbox(self) -> tuple[Queue, Job, Envelope]:
        """What `Outbox.stage` takes: the message id is the deterministic id, so every
        publish of this follow-up (a repeat, a sweep) is the same message."""
        return self.queue, self.job, Envelope(message_id=str(self.id), job_type=self.job_type)


@dataclass(frozen=True)
class Message:
    """What one player is told: the same words in-app and by e-mail."""

    kind: str
    title: str
    text: str
    type: NotificationType = NotificationType.info
    priority: Priority = Priority.normal


def tell(
    player: Player, about: uuid.UUID, tournament: Tournament, message: Message
) -> list[FollowUp]:
    """A notification and an e-mail to `player`, with ids derived from `about` and the kind."""
    notification_id = player_message_id(about, player.id, message.kind)
    email_id = player_message_id(about, player.id, f"{message.kind}-email")
    queue = NOTIFICATIONS_NORMAL if message.priority is Priority.normal else NOTIFICATIONS_HIGH
    return [
        FollowUp(
            notification_id,
            queue,
            CreateNotification(
                id=notification_id,
                user_id=player.user_id,
                title=message.title,
                message=message.text,
                type=message.type,
                priority=message.priority,
            ),
        ),
        FollowUp(
            email_id,
            EMAIL,
            SendEmail(
                id=email_id,
                to=player.email,
                subject=f"{tournament.name}: {message.title.lower()}",
                body=f"Hello {player.name},\n\n{message.text}\n",
                tournament_id=tournament.id,
            ),
        ),
    ]


def advance_round(tournament_id: uuid.UUID, round_number: int) -> FollowUp:
    """The advance job of a settled round, under the round's one id (see AdvanceRound)."""
    job = AdvanceRound(tournament_id=tournament_id, round=round_number)
    return FollowUp(advance_message_id(tournament_id, round_number), ADVANCE, job)


def when(deadline: datetime) -> str:
    return deadline.strftime("%Y-%m-%d %H:%M UTC")


# ------------------------------------------------------------------------ the bracket


def new_match(
    tournament: Tournament,
    round_number: int,
    match_id: uuid.UUID,
    player: Player,
    opponent: Player,
    deadline: datetime,
) -> list[FollowUp]:
    return tell(
        player,
        match_id,
        tournament,
        Message(
            "match",
            f"Round {round_number}: your match against {opponent.name}",
            f"Round {round_number} of {tournament.name}: you play {opponent.name}. "
            f"The result must be in before {when(deadline)}; after that the match expires.",
        ),
    )


def bye(
    tournament: Tournament, round_number: int, match_id: uuid.UUID, player: Player
) -> list[FollowUp]:
    return tell(
        player,
        match_id,
        tournament,
        Message(
            "bye",
            f"Round {round_number}: you advance without playing",
            f"You have no opponent in round {round_number} of {tournament.name} (a bye): "
            "you go through to the next round.",
            NotificationType.success,
        ),
    )


def match_decided(
    tournament: Tournament, round_number: int, match_id: uuid.UUID, winner: Player, loser: Player
) -> list[FollowUp]:
    """The winner is told of the win, the loser of the elimination."""
    return [
        *tell(
            winner,
            match_id,
            tournament,
            Message(
                "won",
                f"You won your round {round_number} match",
                f"You beat {loser.name} in round {round_number} of {tournament.name}. "
                "You will be told of your next match as soon as the round is complete.",
                NotificationType.success,
            ),
        ),
        *tell(
            loser,
            match_id,
            tournament,
            Message(
                "eliminated",
                f"You are out of {tournament.name}",
                f"{winner.name} beat you in round {round_number} of {tournament.name}. "
                "Thank you for playing.",
            ),
        ),
    ]


def final_result(tournament: Tournament, player: Player, champion: Player | None) -> list[FollowUp]:
    """Every player is told how the tournament ended."""
    if champion is None:
        message = Message(
            "final",
            "The tournament ended without a champion",
            f"{tournament.name} is over: its last matches expired before a result was in, "
            "so no player is left standing.",
        )
    elif champion.id == player.id:
        message = Message(
            "final",
            "You are the champion",
            f"You won {tournament.name}. Congratulations!",
            NotificationType.success,
        )
    else:
        message = Message(
            "final",
            f"{champion.name} is the champion",
            f"{tournament.name} is over: {champion.name} won it.",
        )
    return tell(player, tournament.id, tournament, message)


# --------------------------------------------------------------------------- deadlines


def _player(of: PlayerOfMatch) -> Player:
    return Player(of.player_id, of.user_id, of.name, of.email)


def _tournament(of: PlayerOfMatch) -> Tournament:
    return Tournament(of.tournament_id, of.tournament)


def deadline_warning(player: PlayerOfMatch) -> list[FollowUp]:
    """A notification (high priority: it is time-bound) and an e-mail for one player."""
    return tell(
        _player(player),
        player.match_id,
        _tournament(player),
        Message(
            "warning",
            "Match deadline approaching",
            f"Your match in {player.tournament} must be played before {when(player.deadline)}. "
            "After that it expires.",
            NotificationType.warning,
            Priority.high,
        ),
    )


def match_expired(player: PlayerOfMatch) -> list[FollowUp]:
    """Tell one player their match expired, and whether they go on (a one-sided report)."""
    missed = (
        f"Your match in {player.tournament} was not played before its deadline "
        f"({when(player.deadline)}) and has expired."
    )
    if player.winner_id is None:
        outcome = " Nobody advances from it: you are out of the tournament."
    elif player.winner_id == player.player_id:
        outcome = " Only one result was reported, naming you the winner: you advance."
    else:
        outcome = " Only one result was reported, naming your opponent: you are out."
    return tell(
        _player(player),
        player.match_id,
        _tournament(player),
        Message("expired", "Match expired", missed + outcome, NotificationType.error),
    )
