"""Request and answer bodies of the sms endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from common.request_body import CallbackBody, NonBlankText, RequestBody, Text
from pydantic import BaseModel, Field, WithJsonSchema, field_validator

from ..numbers import to_e164
from ..segments import segment
from ..statuses import RECEIPT_STATUSES
from .settings import sms_settings

Scalar = str | int | float | None

# A phone number is whatever libphonenumber calls valid, which no pattern can say: the
# document names the format and shows the E.164 shape; national numbers (read in
# SMS_DEFAULT_REGION) are accepted too, as the descriptions say.
PHONE: dict[str, Any] = {
    "format": "phone",
    "pattern": r"^\+[1-9][0-9]{6,14}$",
    "examples": ["+14155552671"],
}


def check_message(message: str) -> str:
    if not message.strip():
        raise ValueError("message is empty")
    limit = sms_settings().sms_max_segments
    parts = segment(message).segments
    if parts > limit:
        raise ValueError(f"message needs {parts} segments; at most {limit} (SMS_MAX_SEGMENTS)")
    return message


ReceiptStatus = Literal["sent", "delivered", "failed", "undelivered"]


class SmsRequest(RequestBody):
    to: NonBlankText = Field(
        description="Recipient; normalised to E.164 (without +: SMS_DEFAULT_REGION)",
        json_schema_extra=PHONE,
    )
    message: NonBlankText = Field(description="At most SMS_MAX_SEGMENTS (10) segments")
    sender: Text | None = Field(default=None, min_length=1, max_length=15)

    @field_validator("to")
    @classmethod
    def normalise(cls, value: str) -> str:
        return to_e164(value, sms_settings().sms_default_region)

    @field_validator("message")
    @classmethod
    def fits(cls, value: str) -> str:
        return check_message(value)


class SmsQueued(BaseModel):
    id: uuid.UUID
    to: str
    status: str
    segments: int
    encoding: str


class SmsView(BaseModel):
    id: uuid.UUID
    to: str
    status: str
    attempts: int
    segments: int
    encoding: str
    error: str | None
    provider_id: str | None
    provider: str | None
    campaign_id: uuid.UUID | None
    message: str


class RecipientRow(RequestBody):
    """How a recipient row is documented. Rows are validated one by one as `Recipient` (a
    bad row is reported in `rejected`), so the body's own schema cannot refuse them."""

    phone: NonBlankText = Field(json_schema_extra=PHONE)
    name: Text | int | float | None = None
    pledge: Text | int | float | None = None
    paid_amount: Text | int | float | None = None
    balance: Text | int | float | None = None
    days_remain: Text | int | float | None = None


class CampaignRequest(RequestBody):
    name: Text = Field(min_length=1, max_length=200)
    message: NonBlankText = Field(
        description="Template; #name #pledge #paid_amount #balance #days_remain"
    )
    sender: Text | None = Field(default=None, min_length=1, max_length=15)
    # Rows are checked one by one: a bad row is reported in `rejected`, not fatal.
    recipients: list[Annotated[Any, WithJsonSchema(RecipientRow.model_json_schema())]] = Field(
        min_length=1
    )

    @field_validator("message")
    @classmethod
    def not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message is empty")
        return value


class CampaignOptions(BaseModel):
    """A campaign's settings when its recipients come as a file (CSV query parameters or
    multipart form fields)."""

    name: Text = Field(min_length=1, max_length=200)
    message: NonBlankText = Field(
        description="Template; #name #pledge #paid_amount #balance #days_remain"
    )
    sender: Text | None = Field(default=None, min_length=1, max_length=15)

    @field_validator("message")
    @classmethod
    def not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message is empty")
        return value


class Recipient(BaseModel):
    phone: str | int
    name: Scalar = None
    pledge: Scalar = None
    paid_amount: Scalar = None
    balance: Scalar = None
    days_remain: Scalar = None


class Rejected(BaseModel):
    row: int = Field(description="Index in `recipients` (JSON, from 0) or line of the CSV file")
    phone: str | None
    error: str


class CampaignQueued(BaseModel):
    id: uuid.UUID
    name: str
    total: int
    status: str
    rejected: list[Rejected]


class CampaignView(BaseModel):
    id: uuid.UUID
    name: str
    status: Literal["queued", "sending", "paused", "cancelled", "completed"]
    total: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    pending: int
    rejected: int


class CampaignMessage(BaseModel):
    id: uuid.UUID
    seq: int = Field(description="Position among the campaign's accepted recipients")
    row: int | None = Field(description="Index in the JSON recipients, or CSV line")
    to: str
    status: str
    attempts: int
    segments: int
    error: str | None
    provider_id: str | None
    updated_at: datetime


class CampaignMessages(BaseModel):
    items: list[CampaignMessage]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class InboundRequest(CallbackBody):
    from_: NonBlankText = Field(alias="from", json_schema_extra=PHONE)
    body: Text = Field(max_length=2000)

    @field_validator("from_")
    @classmethod
    def normalise(cls, value: str) -> str:
        return to_e164(value, sms_settings().sms_default_region)


class InboundRecorded(BaseModel):
    id: uuid.UUID
    from_: str = Field(serialization_alias="from")
    keyword: str | None
    opted_out: bool | None = Field(description="True after STOP…, False after START…, else null")


class ReceiptRequest(CallbackBody):
    provider_id: Text = Field(min_length=1, max_length=200)
    # Providers differ in case and spacing ("Delivered", " sent"); the document lists the
    # lower-case names and the check below still accepts their variants.
    status: ReceiptStatus

    @field_validator("status", mode="before")
    @classmethod
    def known(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        status = value.strip().lower()
        if status not in RECEIPT_STATUSES:
            raise ValueError(f"unknown status {value!r}; one of {', '.join(RECEIPT_STATUSES)}")
        return status


class ReceiptRecorded(BaseModel):
    provider_id: str
    status: str
    matched: bool
    applied: bool
