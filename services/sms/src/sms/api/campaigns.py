"""Turning a campaign request into recipient messages: normalise, personalise, count segments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..contracts import campaign_message_id, personalise, segment
from ..numbers import InvalidNumber, to_e164
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


def prepare(
    campaign_id: uuid.UUID,
    template: str,
    rows: list[Any],
    region: str,
    max_segments: int,
) -> tuple[list[RecipientMessage], list[Rejected]]:
    """Accepted messages (ids derived from the campaign and row) and rejected rows with reasons."""
    accepted: list[RecipientMessage] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for row, raw in enumerate(rows):
        phone = str(raw.get("phone")) if isinstance(raw, dict) and "phone" in raw else None
        try:
            recipient = Recipient.model_validate(raw)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "row"
            rejected.append(Rejected(row=row, phone=phone, error=f"{where}: {problem['msg']}"))
            continue
        try:
            to = to_e164(str(recipient.phone), region)
        except InvalidNumber as error:
            rejected.append(Rejected(row=row, phone=phone, error=str(error)))
            continue
        if to in seen:
            rejected.append(Rejected(row=row, phone=phone, error=f"duplicate recipient {to}"))
            continue
        body = personalise(template, recipient.model_dump())
        parts = segment(body)
        if not body.strip():
            rejected.append(Rejected(row=row, phone=phone, error="personalised message is empty"))
            continue
        if parts.segments > max_segments:
            rejected.append(
                Rejected(
                    row=row,
                    phone=phone,
                    error=f"personalised message needs {parts.segments} segments; at most {max_segments}",
                )
            )
            continue
        seen.add(to)
        accepted.append(
            RecipientMessage(
                id=campaign_message_id(campaign_id, row),
                seq=len(accepted),
                row=row,
                to=to,
                body=body,
                segments=parts.segments,
                encoding=parts.encoding.value,
            )
        )
    return accepted, rejected
