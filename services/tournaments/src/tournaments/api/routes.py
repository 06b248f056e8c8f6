"""HTTP routes of the tournaments domain, and the admin verb that runs a periodic job now."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from common.envelope import Envelope
from common.errors import BrokerUnavailable, NotFound
from common.request_body import RequestBody, Text
from common.runtime import Runtime
from common.scheduling import last_run
from common.web import AdminUser, CurrentUser, Db, PublisherDep, RuntimeDep, client_address
from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import AwareDatetime, Field
from redis.exceptions import RedisError

from ..contracts import (
    DEFAULT_MATCH_DEADLINE_MINUTES,
    EMAIL,
    MAX_CAPACITY,
    MIN_CAPACITY,
    NAMESPACE,
    PERIODIC_QUEUES,
    EmailAddress,
    RunPeriodic,
    SendEmail,
    bulk_email_id,
    periodic_job_name,
)
from ..scheduled import schedule
from . import store

router = APIRouter(tags=["tournaments"])


class NewTournament(RequestBody):
    name: Text = Field(min_length=1, max_length=200)
    capacity: int = Field(ge=MIN_CAPACITY, le=MAX_CAPACITY)
    starts_at: AwareDatetime | None = None
    match_deadline_minutes: int = Field(default=DEFAULT_MATCH_DEADLINE_MINUTES, ge=1, le=525_600)


class NewPlayer(RequestBody):
    name: Text = Field(min_length=1, max_length=200)
    email: EmailAddress = Field(max_length=254)


class BulkEmail(RequestBody):
    subject: Text = Field(min_length=1, max_length=300)
    body: Text = Field(min_length=1, max_length=100_000)


@router.post("/v1/tournaments", status_code=201)
async def create_tournament(body: NewTournament, user: CurrentUser, db: Db) -> dict[str, Any]:
    tournament_id = await store.create(
        db, user.id, body.name, body.capacity, body.starts_at, body.match_deadline_minutes
    )
    tournament = await store.owned(db, tournament_id, user.id)
    return await store.details(db, tournament, user.id, user.admin)


@router.get("/v1/tournaments/{tournament_id}")
async def show_tournament(tournament_id: uuid.UUID, user: CurrentUser, db: Db) -> dict[str, Any]:
    """Players' e-mails are shown to the organiser and admins; other players see names."""
    tournament = await store.visible(db, tournament_id, user.id, user.admin)
    return await store.details(db, tournament, user.id, user.admin)


@router.get("/v1/tournaments/{tournament_id}/bracket")
async def show_bracket(tournament_id: uuid.UUID, user: CurrentUser, db: Db) -> dict[str, Any]:
    """The rounds in order, each with its matches (and byes) by position."""
    return await store.bracket(db, await store.visible(db, tournament_id, user.id, user.admin))


@router.post("/v1/tournaments/{tournament_id}/players", status_code=201)
async def join_tournament(
    tournament_id: uuid.UUID, body: NewPlayer, user: CurrentUser, db: Db
) -> dict[str, Any]:
    player_id = await store.join(db, tournament_id, user.id, user.admin, body.name, body.email)
    return {
        "id": player_id,
        "tournament_id": tournament_id,
        "name": body.name,
        "email": body.email,
    }


@router.post("/v1/tournaments/{tournament_id}/emails", status_code=202)
async def email_players(
    tournament_id: uuid.UUID,
    body: BulkEmail,
    user: CurrentUser,
    db: Db,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """One e-mail job per player; 202 once every job is confirmed by RabbitMQ.

    The bulk e-mail and its jobs are stored together (the outbox). If RabbitMQ does not
    confirm them all, the answer is 503, yet the stored jobs stay: the outbox sweeper
    publishes them once the broker is back, so the bulk e-mail is never half sent. With an
    Idempotency-Key, the bulk id (and so every e-mail id) is derived from it: a retry
    republishes the same ids, and the e-mail job sends each of them once.
    """
    # The organiser's own tournaments; a service or admin key may e-mail any tournament.
    await store.owned(db, tournament_id, None if user.scope != "user" else user.id)
    players = await store.recipients(db, tournament_id)
    bulk_id = (
        uuid.uuid5(NAMESPACE, f"bulk-key:{user.id}:{tournament_id}:{idempotency_key}")
        if idempotency_key
        else uuid.uuid4()
    )
    jobs = [
        SendEmail(
            id=bulk_email_id(bulk_id, player["id"]),
            to=player["email"],
            subject=body.subject,
            body=body.body,
            tournament_id=tournament_id,
        )
        for player in players
    ]
    async with db.acquire() as connection, connection.transaction():
        await store.record_bulk_email(
            connection, bulk_id, tournament_id, user.id, body.subject, body.body, len(players)
        )
        staged = await runtime.outbox.stage(
            connection,
            [(EMAIL, job, Envelope(message_id=str(job.id), user_id=user.id)) for job in jobs],
        )
    try:
        await runtime.outbox.send(staged)
    except BrokerUnavailable as down:
        raise HTTPException(
            503,
            f"the job queue is unavailable: bulk e-mail {bulk_id} is stored and its e-mails "
            "are queued once it is back; retrying with the same Idempotency-Key is safe",
            headers={"Retry-After": "5"},
        ) from down
    return {"id": bulk_id, "status": "queued", "recipients": len(jobs)}


# The audit name of the one admin action a domain owns: running a periodic job now needs
# the domain's own jobs, which the gateway never imports (its other actions: gateway/admin).
RUN_PERIODIC_JOB = "schedule.run"


@router.post("/v1/ops/schedule/{job}/run", status_code=202, tags=["ops"])
async def run_periodic_job(
    job: str, admin: AdminUser, publisher: PublisherDep, runtime: RuntimeDep, request: Request
) -> dict[str, Any]:
    """`job` as the contract names it (`tournaments.check_full`) or its short form."""
    name = periodic_job_name(job)
    if name is None:
        known = ", ".join(f"{q.name} ({short})" for short, q in PERIODIC_QUEUES.items())
        raise NotFound(f"no periodic job {job!r}; known jobs: {known}")
    queue = PERIODIC_QUEUES[name]
    message_id = await publisher.publish(
        queue, RunPeriodic(job=name, requested_by=admin.id), envelope=Envelope(user_id=admin.id)
    )
    await runtime.audit.record(
        admin.id, RUN_PERIODIC_JOB, queue.name, client_address(request), key_id=admin.key_id
    )
    return {"job": name, "queue": queue.name, "id": message_id, "status": "queued"}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


async def schedule_section(runtime: Runtime) -> list[dict[str, Any]]:
    """`schedule` in GET /v1/ops/queues: each periodic job's period, last and next run."""
    now = time.time()
    rows: list[dict[str, Any]] = []
    for job in schedule().jobs:
        try:
            last = await last_run(runtime.redis, runtime.settings.redis_key_prefix, job.name)
        except RedisError:
            last = None
        rows.append(
            {
                "job": job.name,
                "queue": job.queue.name,
                "every": job.every,
                "next_run": _iso(job.next_run(now)),
                "last_run": _iso(last.published_at) if last else None,
                "last_slot": last.slot if last else None,
            }
        )
    return rows
