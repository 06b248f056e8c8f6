"""SMS providers behind one Protocol, chosen by SMS_PROVIDER."""

from __future__ import annotations

from ..settings import SmsSettings
from .base import (
    Accepted,
    OutgoingSms,
    PermanentProviderError,
    Provider,
    ProviderError,
    TransientProviderError,
)
from .http import HttpProvider
from .log import LogProvider
from .twilio import TwilioProvider

__all__ = [
    "Accepted",
    "OutgoingSms",
    "PermanentProviderError",
    "Provider",
    "ProviderError",
    "TransientProviderError",
    "build_provider",
]


def build_provider(settings: SmsSettings) -> Provider:
    if settings.sms_provider == "http":
        return HttpProvider(
            settings.sms_http_url, settings.sms_http_timeout, settings.sms_http_max_connections
        )
    if settings.sms_provider == "twilio":
        return TwilioProvider(
            settings.sms_twilio_base_url,
            settings.sms_twilio_account_sid,
            settings.sms_twilio_auth_token,
            settings.sms_http_timeout,
            settings.sms_http_max_connections,
            settings.twilio_status_callback,
        )
    return LogProvider()
