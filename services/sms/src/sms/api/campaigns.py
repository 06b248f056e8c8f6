"""Turning a campaign request into recipient messages: normalise, personalise, count segments."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..contracts import campaign_message_id
from ..numbers import InvalidNumber, to_e164
from ..personalisation import personalise
from ..segments import segment
from .bodies import Recipient, Rejected


@dataclass(frozen=True)
class RecipientMessage:
    id: uuid.UUID
    seq: int  # position among accepted recipients: what chunks are cut from
    row: int  # position in the request, as reported to the user
    to: str
    body: str
    segments: int
    encoding: str


@dataclass
class CampaignIntake:
    """Recipients turned into messages batch by batch; numbering and duplicates span batches.

    `row` is what a rejected recipient is reported by: its index in a JSON body, its line
    in a CSV file.
    """

    campaign_id: uuid.UUID
    template: str
    region: str
    max_segments: int
    accepted: int = 0
    seen: set[str] = field(default_factory=set)

    def prepare(
        self, rows: Iterable[tuple[int, Any]]
    ) -> tuple[list[RecipientMessage], list[Rejected]]:
        """Accepted messages (ids derived from the campaign and row) and rejected rows."""
        accepted: list[RecipientMessage] = []
        rejected: list[Rejected] = []
        for row, raw in rows:
            message = self._one(row, raw, rejected)
            if message is not None:
                accepted.append(message)
        return accepted, rejected

    def _one(self, row: int, raw: Any, rejected: list[Rejected]) -> RecipientMessage | None:
        phone = str(raw.get("phone")) if isinstance(raw, dict) and "phone" in raw else None
        try:
            recipient = Recipient.model_validate(raw)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "row"
            rejected.append(Rejected(row=row, phone=phone, error=f"{where}: {problem['msg']}"))
            return None
        try:
            to = to_e164(str(recipient.phone), self.region)
        except InvalidNumber as error:
            rejected.append(Rejected(row=row, phone=phone, error=str(error)))
            return None
        if to in self.seen:
            rejected.append(Rejected(row=row, phone=phone, error=f"duplicate recipient {to}"))
            return None
        body = personalise(self.template, recipient.model_dump())
        if not body.strip():
            rejected.append(Rejected(row=row, phone=phone, error="personalised message is empty"))
            return None
        parts = segment(body)
        if parts.segments > self.max_segments:
            rejected.append(
                Rejected(
                    row=row,
                    phone=phone,
                    error=f"personalised message needs {parts.segments} segments; "
                    f"at most {self.max_segments}",
                )
            )
            return None
        self.seen.add(to)
        self.accepted += 1
        return RecipientMessage(
            id=campaign_message_id(self.campaign_id, row),
            seq=self.accepted - 1,
            row=row,
            to=to,
            body=body,
            segments=parts.segments,
            encoding=parts.encoding.value,
        )


def prepare(
    campaign_id: uuid.UUID,
    template: str,
    rows: list[Any],
    region: str,
    max_segments: int,
) -> tuple[list[RecipientMessage], list[Rejected]]:
    """A whole JSON body's recipients at once (rows numbered from 0)."""
    intake = CampaignIntake(campaign_id, template, region, max_segments)
    return intake.prepare(enumerate(rows))


def campaign_status(state: str, pending: int, released_chunks: int) -> str:
    """What GET /v1/campaigns/{id} and the dashboard call a campaign's progress."""
    if state == "cancelled":
        return "cancelled"
    if pending == 0:
        return "completed"
    if state == "paused":
        return "paused"
    return "sending" if released_chunks else "queued"
