"""SMS jobs and the pure rules both the gateway and the sms worker rely on.

Segments and encoding follow 3GPP TS 23.038 (GSM 7-bit default alphabet and its
extension table) and TS 23.040 (concatenated SMS: a 6-octet user-data header leaves 153
septets or 67 UTF-16 code units per part).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from common.envelope import Job
from pydantic import Field, model_validator

# --------------------------------------------------------------------------- jobs


class SendSms(Job):
    """Send one stored sms row: a single send, on `sms.send`.

    The row holds the text and number; the job carries only what routing and pacing need.
    """

    sms_id: uuid.UUID
    user_id: str = Field(min_length=1)
    campaign_id: uuid.UUID | None = None


# Campaign messages per `sms.bulk` job: one broker message (and one claim and one update in
# Postgres) per batch instead of per recipient; the provider still gets one call per sms.
MAX_BATCH = 500


class SendSmsBatch(Job):
    """Send stored campaign sms rows, one provider call each, on `sms.bulk`.

    Each message settles on its own: a failed one is retried or buried as a batch of one
    (its own job), so one bad number never holds back or fails the others.
    """

    sms_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BATCH)
    user_id: str = Field(min_length=1)
    campaign_id: uuid.UUID | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_message_job(cls, data: Any) -> Any:
        """Read a one-message `SendSms` too: jobs queued on sms.bulk (or buried in the
        failed-job store) before campaign messages travelled in batches still run."""
        if isinstance(data, dict) and "sms_ids" not in data and "sms_id" in data:
            return {**data, "sms_ids": [data["sms_id"]]}
        return data


class ReleaseCampaign(Job):
    """Publish the send jobs of one campaign chunk (`chunk` 0 is the first), then the next chunk.

    `not_before` (epoch seconds) is when this chunk may be released: chunks go out
    SMS_BULK_CHUNK_DELAY apart.
    """

    campaign_id: uuid.UUID
    chunk: int = Field(default=0, ge=0)
    not_before: float = 0.0


def campaign_message_id(campaign_id: uuid.UUID, row: int) -> uuid.UUID:
    """The sms id of a campaign's recipient `row`: deterministic, so nothing is ever doubled."""
    return uuid.uuid5(campaign_id, f"row:{row}")


# --------------------------------------------------------------------------- statuses


class SmsStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    skipped = "skipped"


_RANK = {
    SmsStatus.queued: 0,
    SmsStatus.sending: 1,
    SmsStatus.sent: 2,
    SmsStatus.delivered: 3,
    SmsStatus.failed: 3,
    SmsStatus.skipped: 3,
}


def can_move(current: SmsStatus, target: SmsStatus) -> bool:
    """Whether `current -> target` moves forward: queued -> sending -> sent -> delivered | failed.

    `failed` and `skipped` may follow any earlier, non-final state; final states never move.
    """
    if _RANK[current] == 3:
        return False
    return _RANK[target] > _RANK[current]


def sources_of(target: SmsStatus) -> list[str]:
    """Every status a row may be in to move to `target` (for a conditional UPDATE)."""
    return [status.value for status in SmsStatus if can_move(status, target)]


# Postgres advisory-lock namespace of a provider id: a delivery receipt and the worker
# recording that id take it, so a receipt is either matched at once or found by the worker
# (applied late) — never missed by both.
RECEIPT_LOCK = 7_243_101

# Delivery-receipt statuses a provider may report, mapped to ours.
RECEIPT_STATUSES: Mapping[str, SmsStatus] = {
    "sent": SmsStatus.sent,
    "delivered": SmsStatus.delivered,
    "failed": SmsStatus.failed,
    "undelivered": SmsStatus.failed,
}


# --------------------------------------------------------------------------- opt-out

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})


def keyword_of(body: str) -> str | None:
    """The opt-out / opt-in keyword an inbound reply consists of, if any ("stop" -> "STOP")."""
    words = body.strip().split()
    if len(words) != 1:
        return None
    word = words[0].strip(".!").upper()
    return word if word in OPT_OUT_KEYWORDS or word in OPT_IN_KEYWORDS else None


# --------------------------------------------------------------------------- segments


class Encoding(StrEnum):
    gsm7 = "GSM-7"
    ucs2 = "UCS-2"


GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each of these is sent as ESC + char: two septets, and never split across parts.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_LIMIT = {Encoding.gsm7: 160, Encoding.ucs2: 70}
PART_LIMIT = {Encoding.gsm7: 153, Encoding.ucs2: 67}


@dataclass(frozen=True)
class Segmentation:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def _unit_sizes(text: str) -> tuple[Encoding, list[int]]:
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        return Encoding.gsm7, [2 if char in GSM7_EXTENSION else 1 for char in text]
    # Characters outside the BMP (most emoji) are a surrogate pair: two code units.
    return Encoding.ucs2, [2 if ord(char) > 0xFFFF else 1 for char in text]


def segment(text: str) -> Segmentation:
    """Encoding, length in units and number of parts of `text`, exactly as a handset splits it."""
    encoding, sizes = _unit_sizes(text)
    units = sum(sizes)
    if units <= SINGLE_LIMIT[encoding]:
        return Segmentation(encoding, units, 1 if units else 0)
    # Pack parts greedily; an escape pair or a surrogate pair moves whole to the next part.
    limit = PART_LIMIT[encoding]
    parts, used = 1, 0
    for size in sizes:
        if used + size > limit:
            parts, used = parts + 1, 0
        used += size
    return Segmentation(encoding, units, parts)


# --------------------------------------------------------------------------- personalisation

PLACEHOLDERS = ("name", "pledge", "paid_amount", "balance", "days_remain")
_PLACEHOLDER = re.compile(r"#(" + "|".join(PLACEHOLDERS) + r")\b")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def personalise(template: str, fields: Mapping[str, object]) -> str:
    """Replace `#name #pledge #paid_amount #balance #days_remain`; a missing value becomes ""."""
    return _PLACEHOLDER.sub(lambda match: _text(fields.get(match.group(1))), template)


# --------------------------------------------------------------------------- circuit breaker

PROVIDERS = ("log", "http", "twilio")


def breaker_key(prefix: str, provider: str) -> str:
    """The Redis hash holding a provider's breaker (`failures`, `open_until` in epoch ms)."""
    return f"{prefix}sms:breaker:{provider}"


def breaker_state(fields: Mapping[str, str], now_ms: int) -> dict[str, object]:
    """A breaker hash as the ops API shows it: closed, open (with seconds left) or half_open."""
    failures = int(fields.get("failures", 0))
    open_until = int(fields.get("open_until", 0))
    if not open_until:
        return {"state": "closed", "failures": failures, "retry_in": 0.0}
    if now_ms < open_until:
        return {"state": "open", "failures": failures, "retry_in": (open_until - now_ms) / 1000}
    return {"state": "half_open", "failures": failures, "retry_in": 0.0}
