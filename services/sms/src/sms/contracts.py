"""SMS jobs on the wire: what the gateway and the sms worker put on the sms queues."""

from __future__ import annotations

import uuid
from typing import Any

from common.envelope import Job
from pydantic import Field, model_validator


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
