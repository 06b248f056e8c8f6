"""Handlers of the tournaments queues: the four periodic jobs, round advancement, e-mail."""

from __future__ import annotations

from common.consumer import JobContext, JobRouter
from common.errors import Permanent, RetryLater
from common.ratelimit import Rate

from . import domain, follow_ups, legacy_outbox, mailer, rounds, store
from .contracts import (
    ADVANCE,
    AUTO_START,
    CHECK_FULL,
    EMAIL,
    EXPIRE_MATCHES,
    WARN_DEADLINES,
    AdvanceRound,
    RunPeriodic,
    SendEmail,
)
from .settings import settings_of

router = JobRouter()

# One limiter key for every tournaments worker: the pace is global, not per process.
EMAIL_RATE_KEY = "tournaments:email"


@router.handler(CHECK_FULL)
async def check_full(job: RunPeriodic, ctx: JobContext) -> None:
    async with ctx.runtime.pool.acquire() as connection:
        marked = await store.mark_full(connection)
    ctx.log.info("check_full: %d tournaments marked full", marked, extra={"slot": job.slot})


# The handlers below change state and stage the jobs that follow in the same transaction
# (follow_ups.py); the outbox relay of every tournaments worker publishes them as soon as
# it commits, so a run's duration is its own SQL, however many players it has to tell. None of them
# uses ctx.transaction(): each is idempotent on its own (its WHERE clause no longer
# matches what a previous run changed; unique keys absorb the rest).


@router.handler(AUTO_START)
async def auto_start(job: RunPeriodic, ctx: JobContext) -> None:
    async with ctx.runtime.pool.acquire() as connection, connection.transaction():
        started = await store.start_due(connection)
        await follow_ups.stage(
            ctx.runtime, connection, [domain.advance_round(t, 0) for t in started]
        )
    ctx.log.info("auto_start: %d tournaments started", len(started), extra={"slot": job.slot})


@router.handler(EXPIRE_MATCHES)
async def expire_matches(job: RunPeriodic, ctx: JobContext) -> None:
    async with ctx.runtime.pool.acquire() as connection, connection.transaction():
        players = await store.expire_past_deadline(connection)
        told = [f for p in players for f in domain.match_expired(p)]
        touched = {p.tournament_id for p in players}
        settled = await store.settled_rounds(connection, list(touched))
        advances = [domain.advance_round(t, r) for t, r in settled]
        await follow_ups.stage(ctx.runtime, connection, told + advances)
    ctx.log.info(
        "expire_matches: %d matches expired, %d rounds settled, %d jobs queued",
        len({p.match_id for p in players}),
        len(settled),
        len(told) + len(settled),
        extra={"slot": job.slot},
    )


@router.handler(WARN_DEADLINES)
async def warn_deadlines(job: RunPeriodic, ctx: JobContext) -> None:
    window = settings_of(ctx.runtime).deadline_warning
    async with ctx.runtime.pool.acquire() as connection, connection.transaction():
        warned = await store.record_deadline_warnings(connection, window)
        warnings = [f for p in warned for f in domain.deadline_warning(p)]
        await follow_ups.stage(ctx.runtime, connection, warnings)
    # Once per period (as the old outbox's pruning was): what the previous release left.
    await legacy_outbox.adopt_leftovers(ctx.runtime)
    ctx.log.info("warn_deadlines: %d players warned", len(warned), extra={"slot": job.slot})


@router.handler(ADVANCE)
async def advance(job: AdvanceRound, ctx: JobContext) -> None:
    """Create the next round of a settled one, or finish the tournament (rounds.py)."""
    async with ctx.runtime.pool.acquire() as connection, connection.transaction():
        done = await rounds.advance(connection, job.tournament_id, job.round)
        if done is not None:
            await follow_ups.stage(ctx.runtime, connection, done.follow_ups)
    if done is None:
        ctx.log.info(
            "advance: nothing to do for round %d of %s (moved on, or not settled)",
            job.round,
            job.tournament_id,
        )
        return
    ctx.log.info(
        "advance: round %d of %s settled; created rounds %s%s; %d jobs queued",
        job.round,
        job.tournament_id,
        done.created,
        f", finished (champion {done.champion})" if done.finished else "",
        len(done.follow_ups),
    )


@router.handler(EMAIL)
async def send_email(job: SendEmail, ctx: JobContext) -> None:
    settings = settings_of(ctx.runtime)
    pool = ctx.runtime.pool
    if await store.email_sent(pool, job.id):
        return
    # Paced across all workers; a paced job waits (RetryLater) without spending an attempt.
    await ctx.runtime.limiter.throttle(
        EMAIL_RATE_KEY, Rate(settings.email_rate_per_minute, 60.0, burst=1)
    )
    # Claim before sending, so two deliveries of one job never talk to SMTP at once; the
    # lease outlives one SMTP conversation, so a crashed holder's claim lapses by itself.
    lease = settings.smtp_timeout * 2 + 5
    claimed, wait = await store.claim_email(pool, job.id, job.to, job.subject, lease)
    if not claimed:
        if wait:
            # Poll at most every second: the holder usually finishes well before its lease.
            raise RetryLater(min(wait, 1.0), "another delivery of this e-mail is being sent")
        return
    message = mailer.compose(settings, job.id, job.to, job.subject, job.body)
    try:
        await mailer.send(settings, message)
    except mailer.RejectedEmail as rejected:
        await store.finish_email(pool, job.id, "rejected", str(rejected))
        raise Permanent(str(rejected)) from rejected
    except mailer.TransientSmtpError as transient:
        await store.finish_email(pool, job.id, "sending", str(transient))
        raise
    await store.finish_email(pool, job.id, "sent")
