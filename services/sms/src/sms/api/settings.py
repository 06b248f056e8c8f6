"""The gateway's sms settings (env names as in CONTRACT.md), read once."""

from __future__ import annotations

from functools import cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmsGatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Region (ISO 3166 alpha-2) of numbers written without `+`, e.g. "GA" for 077 75 07 37.
    sms_default_region: str = "US"
    sms_max_segments: int = Field(default=10, ge=1)
    sms_rate_per_minute: int = Field(default=100, ge=0)
    sms_campaigns_per_hour: int = Field(default=5, ge=0)
    sms_campaign_max_recipients: int = Field(default=1_000_000, ge=1)
    # Twilio's callbacks (POST /v1/sms/twilio/status, /inbound) are signed with the account's
    # auth token over the URL Twilio called: the gateway's public base URL plus the path.
    sms_twilio_auth_token: str = ""
    sms_twilio_public_url: str = ""

    @field_validator("sms_default_region")
    @classmethod
    def upper(cls, value: str) -> str:
        return value.strip().upper()


@cache
def sms_settings() -> SmsGatewaySettings:
    return SmsGatewaySettings()
