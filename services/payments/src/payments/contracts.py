"""Payment jobs and the pure rules the gateway and the payments worker both rely on.

The gateway verifies and stores a provider's event, then publishes one of these jobs; the
worker applies it. Both read provider payloads through the models below, so an event the
gateway accepted is parsed the same way by the worker.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from common.envelope import Job
from pydantic import BaseModel, ConfigDict, Field


class Provider(StrEnum):
    stripe = "stripe"
    monetbil = "monetbil"


class PaymentStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    refunded = "refunded"


class ProcessStripeEvent(Job):
    """Apply the stored Stripe event `event_id` (payments.webhook_events) to its payment."""

    event_id: str = Field(min_length=1, max_length=255)
    type: str = ""


class ProcessMonetbilCallback(Job):
    """Confirm the stored Monetbil callback `event_id` (its transaction id), then apply it."""

    event_id: str = Field(min_length=1, max_length=255)


class StripeObject(BaseModel):
    """The part of `data.object` we use (a PaymentIntent or a Charge)."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    amount: int | None = None
    amount_received: int | None = None
    currency: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class StripeEventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    object: StripeObject = Field(default_factory=StripeObject)


class StripeEvent(BaseModel):
    """A Stripe event as POSTed to the webhook (https://docs.stripe.com/api/events/object)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255)
    data: StripeEventData = Field(default_factory=StripeEventData)

    @property
    def payment_id(self) -> str | None:
        value = self.data.object.metadata.get("payment_id")
        return str(value) if value else None

    @property
    def transaction_id(self) -> str | None:
        return self.data.object.id


def stripe_message_id(event_id: str) -> str:
    """The AMQP message id of an event's job: the same event always makes the same id,
    so the runtime's processed-message record dedupes redeliveries of it."""
    return f"stripe:{event_id}"


def monetbil_message_id(transaction_id: str) -> str:
    return f"monetbil:{transaction_id}"
