"""HTTP routes that decide matches: the organiser's result and a player's report.

The decision and its follow-ups commit together (decisions.py: the follow-ups staged in
the runtime's outbox) and the answer follows the commit; the tournaments workers' outbox
relay, woken by the commit, publishes the follow-ups (the players told, the round's
advance job). So a result never waits for RabbitMQ, and an outage of RabbitMQ delays the
follow-ups without losing them or failing the request: a decided match never answers 503.
"""

from __future__ import annotations

import uuid
from typing import Any

from common.request_body import RequestBody
from common.web import CurrentUser, RuntimeDep
from fastapi import APIRouter

from . import decisions

router = APIRouter(tags=["tournaments"])


class MatchResult(RequestBody):
    winner: uuid.UUID


class MatchReport(RequestBody):
    player: uuid.UUID  # the reporting player: one of the caller's own
    winner: uuid.UUID


@router.post("/v1/tournaments/{tournament_id}/matches/{match_id}/result")
async def record_result(
    tournament_id: uuid.UUID,
    match_id: uuid.UUID,
    body: MatchResult,
    user: CurrentUser,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """The organiser (or an admin) names the winner of a pending match: 200, the match."""
    decision = await decisions.record_result(runtime, tournament_id, match_id, body.winner, user)
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
        runtime, tournament_id, match_id, body.player, body.winner, user
    )
    return decision.match
