"""What a request for one SMS does, whoever asks: stored for the user, its job queued
(publisher confirm); campaigns: campaign_service.py. The HTTP routes call these once the
request is validated (SmsRequest) and the caller is authenticated and within its per-user
limits; the Laravel bridge's adapter (sms.laravel) calls them for Laravel jobs, with the
job's uuid as the id.

With an id given, the same id twice queues one message or one campaign: the row is a
natural-key insert, and a second call only answers what the first one stored. Its job
was staged in the outbox with the row, so a first call cut short between its commit and
the broker's confirm still gets its job published, by the outbox sweeper (the gateway's,
the bridge's); a job published twice that way has one message id, settled once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import asyncpg
from common.envelope import Envelope
from common.errors import Conflict
from common.runtime import Runtime

from ..contracts import SendSms
from ..segments import segment
from ..topology import SMS_SEND
from . import store
from .bodies import CampaignQueued, SmsQueued, SmsRequest


class IdTaken(Conflict):
    """The id given for a new message or campaign belongs to another user's."""


Answer = TypeVar("Answer", SmsQueued, CampaignQueued)


@dataclass(frozen=True)
class Queued(Generic[Answer]):
    """What a request queued, and whether it is new (False: the same id was queued before)."""

    answer: Answer
    new: bool = True


def carried_envelope(message_id: str, user_id: str, carried: Envelope | None) -> Envelope:
    """The job's envelope: its own message id and user; the attempt, retry policy headers
    and correlation id a producer's job carries (a Laravel job's), if any."""
    if carried is None:
        return Envelope(message_id=message_id, user_id=user_id)
    return Envelope(
        message_id=message_id,
        user_id=user_id,
        attempt=carried.attempt,
        correlation_id=carried.correlation_id,
        headers=dict(carried.headers),
    )


@dataclass(frozen=True)
class NewSms:
    """One SMS to store and queue for `user_id`; `carried`: a producer's envelope (its
    attempt, retry policy headers, correlation id), a Laravel job's."""

    user_id: str
    request: SmsRequest
    sms_id: uuid.UUID = field(default_factory=uuid.uuid4)
    carried: Envelope | None = None


async def queue_sms(
    runtime: Runtime,
    user_id: str,
    request: SmsRequest,
    *,
    sms_id: uuid.UUID | None = None,
    carried: Envelope | None = None,
) -> Queued[SmsQueued]:
    """Store one SMS for `user_id` (`queued`) and queue its send job, in one outbox
    transaction: never the row without the job. BrokerUnavailable when not confirmed
    (nothing is left behind); IdTaken when `sms_id` is another user's."""
    new = NewSms(user_id, request, sms_id or uuid.uuid4(), carried)
    [queued] = await queue_sms_many(runtime, [new])
    if isinstance(queued, IdTaken):
        raise queued
    return queued


async def queue_sms_many(
    runtime: Runtime, messages: Sequence[NewSms]
) -> list[Queued[SmsQueued] | IdTaken]:
    """`queue_sms` for many messages in one transaction (one insert, one outbox write, one
    round of confirms): each gets its own answer, or the IdTaken that refuses it alone."""
    parts = [segment(m.request.message) for m in messages]
    rows: list[store.SmsRow] = [
        (
            m.sms_id,
            m.user_id,
            m.request.to,
            m.request.sender,
            m.request.message,
            p.segments,
            p.encoding.value,
        )
        for m, p in zip(messages, parts, strict=True)
    ]
    async with runtime.pool.acquire() as connection, connection.transaction():
        inserted = await store.insert_many_sms(connection, rows)
        # The first of several messages with one id (a job seen twice at once) is the new one.
        firsts = {m.sms_id: i for i, m in reversed(list(enumerate(messages)))}
        new = [i for i, m in enumerate(messages) if m.sms_id in inserted and firsts[m.sms_id] == i]
        jobs = [
            (
                SMS_SEND,
                SendSms(sms_id=messages[i].sms_id, user_id=messages[i].user_id),
                carried_envelope(str(messages[i].sms_id), messages[i].user_id, messages[i].carried),
            )
            for i in new
        ]
        staged = await runtime.outbox.stage(connection, jobs) if jobs else []
        seen = set(new)
        existing = await store.stored_sms_many(
            connection, [m.sms_id for i, m in enumerate(messages) if i not in seen]
        )

    async def undo(connection: asyncpg.Connection) -> None:
        # Nothing queued: leave nothing behind.
        await store.delete_sms(connection, [messages[i].sms_id for i in new])

    if staged:
        await runtime.outbox.send_or_withdraw(staged, undo)
    answers: list[Queued[SmsQueued] | IdTaken] = []
    for i, (message, part) in enumerate(zip(messages, parts, strict=True)):
        if i in seen:
            queued = SmsQueued(
                id=message.sms_id,
                to=message.request.to,
                status="queued",
                segments=part.segments,
                encoding=part.encoding,
            )
            answers.append(Queued(queued))
            continue
        row = existing[message.sms_id]
        if row["user_id"] != message.user_id:
            answers.append(IdTaken(f"sms id {message.sms_id} belongs to another user"))
            continue
        queued = SmsQueued(
            id=message.sms_id,
            to=row["to_number"],
            status=row["status"],
            segments=row["segments"],
            encoding=row["encoding"],
        )
        answers.append(Queued(queued, new=False))
    return answers
