"""A long-wait alert also reaches Slack (incoming-webhook format) and e-mail (SMTP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from common.alerts import AlertMonitor

from tests.fakes.ops_webhook import WebhookReceiver
from tests.fakes.tournaments_smtp import SmtpSink
from tests.support import eventually


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(sink.port))
    monkeypatch.setenv("MAIL_FROM", "relay@ops.test")
    try:
        yield sink
    finally:
        sink.stop()


async def test_long_wait_alert_goes_to_slack_and_by_email(
    runtime_factory: Any, smtp: SmtpSink
) -> None:
    with WebhookReceiver() as slack:
        runtime = await runtime_factory(
            alert_wait_seconds=60,
            alert_slack_webhook_url=slack.url,
            alert_email_to="ops@relay.test, oncall@relay.test",
        )
        monitor = AlertMonitor(runtime.redis, runtime.settings)
        [sent] = await monitor.evaluate({"sms.bulk": 125.0}, {}, ["sms.bulk"])
        assert sent.kind == "long_wait"

        [message] = eventually(lambda: slack.received, timeout=10)
        assert message["text"] == sent.text and "sms.bulk" in message["text"]
        section, context = message["blocks"]
        assert section["type"] == "section" and "*Long wait detected*" in section["text"]["text"]
        assert "queue `sms.bulk`" in context["elements"][0]["text"]

        mails = eventually(lambda: len(smtp.received) == 2 and smtp.snapshot(), timeout=10)
        assert {m.to for m in mails} == {"ops@relay.test", "oncall@relay.test"}
        assert mails[0].subject == "[Relay] Long wait detected: sms.bulk"

        # Within the cooldown, the same alert goes nowhere again.
        assert await monitor.evaluate({"sms.bulk": 200.0}, {}, ["sms.bulk"]) == []
        assert len(slack.received) == 1 and len(smtp.received) == 2
