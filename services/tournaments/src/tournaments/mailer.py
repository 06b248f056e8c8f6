"""The SMTP sender: one message, one connection, errors sorted into transient and permanent."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from common.smtp import send_email

from .settings import TournamentSettings


class TransientSmtpError(Exception):
    """Try again later: 4xx replies, refused or dropped connections, timeouts."""


class RejectedEmail(Exception):
    """The server refused for good (5xx), e.g. an unknown recipient: never retry."""


def compose(
    settings: TournamentSettings, email_id: uuid.UUID, to: str, subject: str, body: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    # Deterministic: if a crash makes us send a job twice, mail clients that collapse
    # duplicates by Message-ID show it once.
    message["Message-ID"] = f"<{email_id}@relay>"
    message["X-Relay-Email-Id"] = str(email_id)
    message.set_content(body)
    return message


def _permanent(code: int) -> bool:
    return 500 <= code < 600


async def send(settings: TournamentSettings, message: EmailMessage) -> None:
    """Deliver `message` to the configured server; raise TransientSmtpError or RejectedEmail."""
    try:
        await send_email(settings, message)
    except aiosmtplib.SMTPRecipientsRefused as refused:
        # One recipient per job, so one refusal; its code decides (550 no such user vs
        # 450 mailbox busy).
        codes = [error.code for error in refused.recipients]
        reason = "; ".join(f"{e.code} {e.message}" for e in refused.recipients)
        if codes and all(_permanent(code) for code in codes):
            raise RejectedEmail(f"recipient rejected: {reason}") from refused
        raise TransientSmtpError(f"recipient deferred: {reason}") from refused
    except aiosmtplib.SMTPResponseException as response:
        if _permanent(response.code):
            raise RejectedEmail(f"server refused: {response.code} {response.message}") from response
        raise TransientSmtpError(
            f"server deferred: {response.code} {response.message}"
        ) from response
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as trouble:
        # SMTPConnectError, SMTPServerDisconnected, SMTPTimeoutError, refused connections.
        raise TransientSmtpError(f"SMTP server unreachable: {trouble!r}") from trouble
