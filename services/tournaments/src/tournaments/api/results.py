"""HTTP routes that decide matches: the organiser's result and a player's report.

The decision and its follow-ups commit together (decisions.py); the follow-ups are then
published with confirms before the answer. If RabbitMQ is down at that moment the result
still stands (answering 503 would invite a retry that can only get 409): the follow-ups
wait in the outbox and the next auto_start or deadline run publishes them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from common.errors import BrokerUnavailable
from common.runtime import Runtime
from common.web import CurrentUser, RuntimeDep
from fastapi import APIRouter
from pydantic import BaseModel

from .. import outbox
from ..domain import FollowUp
from . import decisions

log = logging.getLogger("relay.tournaments")

router = APIRouter(tags=["tournaments"])


class MatchResult(BaseModel):
    winner: uuid.UUID


class MatchReport(BaseModel):
    player: uuid.UUID  # the reporting player: one of the caller's own
    winner: uuid.UUID


async def _publish(runtime: Runtime, follow_ups: Sequence[FollowUp]) -> None:
    try:
        await outbox.publish(runtime, follow_ups)
    except BrokerUnavailable as error:
        log.warning(
            "follow-ups left in the outbox for the next sweep",
            extra={"error": str(error), "jobs": len(follow_ups)},
        )


@router.post("/v1/tournaments/{tournament_id}/matches/{match_id}/result")
async def record_result(
    tournament_id: uuid.UUID,
    match_id: uuid.UUID,
    body: MatchResult,
    user: CurrentUser,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """The organiser (or an admin) names the winner of a pending match: 200, the match."""
    decision = await decisions.record_result(
        runtime.pool, tournament_id, match_id, body.winner, user
    )
    await _publish(runtime, decision.follow_ups)
    return decision.match


@router.post("/v1/tournaments/{tournament_id}/matches/{match_id}/report")
async def report_result(
    tournament_id: uuid.UUID,
    match_id: uuid.UUID,
    body: MatchReport,
    user: CurrentUser,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """A player (by the user who registered them) reports who won their pending match."""
    decision = await decisions.record_report(
        runtime.pool, tournament_id, match_id, body.player, body.winner, user
    )
    await _publish(runtime, decision.follow_ups)
    return decision.match
