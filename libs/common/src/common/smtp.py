"""Sending e-mail over SMTP with the shared settings (SMTP_HOST, SMTP_PORT, MAIL_FROM...).

aiosmtplib has no OpenTelemetry instrumentation: each send is a client span of its own,
so an e-mail shows under the job (or request) that sent it.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .telemetry import tracing


class SmtpSettings(BaseSettings):
    """The SMTP server every process sends through (docker compose: Mailpit)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    smtp_host: str = "localhost"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout: float = Field(default=10.0, gt=0)
    mail_from: str = "noreply@relay.localhost"


def smtp_span_attributes(host: str, port: int, recipients: int) -> dict[str, str | int]:
    return {"server.address": host, "server.port": port, "smtp.recipients": recipients}


async def send_email(settings: SmtpSettings, message: EmailMessage) -> None:
    """Deliver `message` (aiosmtplib's errors propagate), inside an `smtp send` span."""
    if "From" not in message:
        message["From"] = settings.mail_from
    recipients = len(message.get_all("To", []))
    attributes = smtp_span_attributes(settings.smtp_host, settings.smtp_port, recipients)
    with tracing.client_span("smtp send", attributes):
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            timeout=settings.smtp_timeout,
        )
