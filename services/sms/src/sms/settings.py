"""Settings of the sms worker (env names as in CONTRACT.md; the SMS_* extras are ours)."""

from __future__ import annotations

from typing import Literal

from common.settings import RuntimeSettings
from pydantic import Field

from .contracts import MAX_BATCH


class SmsSettings(RuntimeSettings):
    # sms queues have fixed prefetches (SMS_*_PREFETCH below) sized for their traffic.
    worker_autoscale: bool = False

    sms_provider: Literal["log", "http", "twilio"] = "log"
    # Messages per second to the provider across every sms worker (0 = unlimited).
    sms_provider_rate: float = Field(default=0.0, ge=0)
    sms_default_sender: str = "Relay"

    sms_http_url: str = "http://localhost:9000/sms"
    sms_http_timeout: float = Field(default=10.0, gt=0)
    # Keep-alive connections the http / twilio provider may hold open per worker.
    sms_http_max_connections: int = Field(default=200, ge=1)

    sms_twilio_base_url: str = "https://api.twilio.com"
    sms_twilio_account_sid: str = ""
    sms_twilio_auth_token: str = ""
    # Where Twilio posts delivery receipts; empty: SMS_TWILIO_PUBLIC_URL (the gateway's
    # public base URL) + /v1/sms/twilio/status, or no callback when that is empty too.
    sms_twilio_status_callback: str = ""
    sms_twilio_public_url: str = ""

    @property
    def twilio_status_callback(self) -> str:
        if self.sms_twilio_status_callback or not self.sms_twilio_public_url:
            return self.sms_twilio_status_callback
        return self.sms_twilio_public_url.rstrip("/") + "/v1/sms/twilio/status"

    sms_breaker_failures: int = Field(default=5, ge=1)
    sms_breaker_cooldown: float = Field(default=30.0, gt=0)

    sms_bulk_chunk: int = Field(default=50, ge=1)
    sms_bulk_chunk_delay: float = Field(default=10.0, ge=0)
    # Campaign messages per sms.bulk job (each still one provider call): batching saves a
    # broker message and two Postgres round trips per recipient.
    sms_bulk_batch: int = Field(default=100, ge=1, le=MAX_BATCH)
    # Campaigns smaller than this are released at once, one job per recipient.
    sms_bulk_direct_below: int = Field(default=100, ge=1)
    # Campaign messages per user per hour (0 = unpaced); paced messages wait, none is dropped.
    sms_bulk_per_hour: int = Field(default=10000, ge=0)
    # How many paced messages may go at once before pacing bites (0 = one minute's worth).
    sms_bulk_burst: int = Field(default=0, ge=0)

    # Prefetch per queue: single sends have their own channel, so they never queue
    # behind the campaign messages a worker already holds.
    sms_send_prefetch: int = Field(default=50, ge=1)
    sms_bulk_prefetch: int = Field(default=4, ge=1)
    sms_campaign_prefetch: int = Field(default=4, ge=1)
