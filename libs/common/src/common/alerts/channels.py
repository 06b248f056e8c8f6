"""Where an alert goes besides the log: a JSON webhook, a Slack incoming webhook, e-mail.

- ALERT_WEBHOOK_URL: the alert as JSON `{"kind", "queue", "value", "threshold", "text", "at"}`;
- ALERT_SLACK_WEBHOOK_URL: Slack's incoming-webhook format (`text` plus Block Kit blocks),
  where Horizon routed its Slack messages;
- ALERT_EMAIL_TO: one e-mail to these addresses, through the SMTP settings (SMTP_HOST...),
  where Horizon routed its mail.
A channel that fails is logged; the others and the dashboard's list still get the alert.
"""

from __future__ import annotations

import logging
import time
from email.message import EmailMessage
from typing import Any, Literal

import aiosmtplib
import httpx
from pydantic import BaseModel

from ..settings import RuntimeSettings
from ..smtp import SmtpSettings, send_email

log = logging.getLogger("relay.alerts")


class Alert(BaseModel):
    kind: Literal["long_wait", "failed_growing"]
    queue: str
    value: float
    threshold: float
    text: str
    at: float


_TITLES = {"long_wait": "Long wait detected", "failed_growing": "Failed jobs growing"}


def slack_message(alert: Alert) -> dict[str, Any]:
    """The alert in Slack's incoming-webhook format."""
    title = _TITLES.get(alert.kind, alert.kind)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(alert.at))
    return {
        "text": alert.text,
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f":warning: *{title}*\n{alert.text}"},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"queue `{alert.queue}` · value {alert.value:g} · "
                        f"threshold {alert.threshold:g} · {when}",
                    }
                ],
            },
        ],
    }


def email_message(alert: Alert, recipients: list[str], sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"[Relay] {_TITLES.get(alert.kind, alert.kind)}: {alert.queue}"
    message.set_content(
        f"{alert.text}\n\nqueue: {alert.queue}\nvalue: {alert.value:g}\n"
        f"threshold: {alert.threshold:g}\nat: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(alert.at))}\n"
    )
    return message


async def deliver(
    alert: Alert, settings: RuntimeSettings, client: httpx.AsyncClient | None = None
) -> None:
    """Send `alert` to every configured channel; a failing channel is logged, not raised."""
    owned = client is None
    client = client or httpx.AsyncClient(timeout=5)
    try:
        if settings.alert_webhook_url:
            await _post(client, settings.alert_webhook_url, alert.model_dump(mode="json"), alert)
        if settings.alert_slack_webhook_url:
            await _post(client, settings.alert_slack_webhook_url, slack_message(alert), alert)
    finally:
        if owned:
            await client.aclose()
    if settings.alert_email_to:
        smtp = SmtpSettings()
        try:
            await send_email(smtp, email_message(alert, settings.alert_email_to, smtp.mail_from))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            log.error("alert e-mail failed", extra={"error": repr(error), "queue": alert.queue})


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any], alert: Alert) -> None:
    try:
        response = await client.post(url, json=body)
        response.raise_for_status()
    except httpx.HTTPError as error:
        # The alert is still logged and listed on the dashboard.
        log.error("alert webhook failed", extra={"error": repr(error), "queue": alert.queue})
