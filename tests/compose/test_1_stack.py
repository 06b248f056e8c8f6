"""The stack as `docker compose up --build --wait` leaves it: healthy, ready, quiet, visible."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime

import httpx

from tests.support import eventually
from tests.support.compose import ADMIN_KEY, ComposeStack
from tests.support.stack import ROOT

APP_SERVICES = ("gateway", "sms", "payments", "tournaments", "scheduler", "notifications")
BACKING = ("rabbitmq", "postgres", "redis", "mailpit")


def test_every_service_is_healthy_and_the_gateway_ready(compose: ComposeStack) -> None:
    for service in (*BACKING, *APP_SERVICES, "proxy"):
        assert compose.healthy(service), f"{service} is not healthy"
    assert len(compose.container_ids("gateway")) == 2  # GATEWAY_REPLICAS, behind the proxy
    answer = httpx.get(f"{compose.gateway}/readyz", timeout=10)
    assert answer.status_code == 200, answer.text
    assert httpx.get(f"{compose.gateway}/docs", timeout=10).status_code == 200


def test_rabbitmq_management_ui_shows_our_queues(compose: ComposeStack) -> None:
    ui = httpx.get(compose.url("RABBITMQ_MANAGEMENT_HOST_PORT"), timeout=10)
    assert ui.status_code == 200 and "RabbitMQ" in ui.text
    names = {queue["name"] for queue in compose.management("/queues/%2F")}
    for queue in ("sms.send", "sms.bulk", "payments.stripe", "notifications.image"):
        assert queue in names, f"{queue} not declared: {sorted(names)}"

    def consuming() -> bool:  # the workers are really on their queues
        consumers = {q["name"]: q.get("consumers", 0) for q in compose.management("/queues/%2F")}
        assert consumers["sms.send"] >= 1 and consumers["payments.stripe"] >= 1, consumers
        return True

    eventually(consuming, timeout=60, interval=1)


def test_smtp_sink_web_ui_answers(compose: ComposeStack) -> None:
    ui = httpx.get(compose.url("MAILPIT_UI_HOST_PORT"), timeout=10)
    assert ui.status_code == 200
    api = httpx.get(f"{compose.url('MAILPIT_UI_HOST_PORT')}/api/v1/messages", timeout=10)
    assert api.status_code == 200 and "messages" in api.json()


def test_dashboard_queue_list_hides_the_aliveness_test_queue(compose: ComposeStack) -> None:
    # A monitoring probe's aliveness test leaves this queue in the vhost.
    assert compose.management("/aliveness-test/%2F") == {"status": "ok"}
    with compose.client(ADMIN_KEY) as admin:
        answer = admin.get("/v1/ops/queues")
        assert answer.status_code == 200, answer.text
        names = [queue["name"] for queue in answer.json()["queues"]]
        assert "sms.send" in names and "aliveness-test" not in names
    with httpx.Client(base_url=compose.gateway, timeout=30) as browser:
        # A person's way in: the login form sets the session cookie, then the page.
        assert browser.post("/dashboard/login", data={"key": ADMIN_KEY}).status_code in (200, 303)
        page = browser.get("/dashboard", follow_redirects=True)
        assert page.status_code == 200 and "sms.send" in page.text, page.text[:300]
        assert "aliveness-test" not in page.text


# The scheduler's shortest period (TOURNAMENTS_EVERY, 300 s by default): its slots start
# at multiples of it, when the periodic jobs run and say so. That is work, not idle noise.
SCHEDULER_PERIOD = 300
WINDOW = 20


def test_a_quiet_stack_logs_nothing_periodic_at_info(compose: ComposeStack) -> None:
    """Idle workers ramp their concurrency down on every autoscale tick: at DEBUG only."""
    # Observe between two scheduler slots, so the window holds only what an idle stack does.
    into_slot = time.time() % SCHEDULER_PERIOD
    if into_slot < 15:
        time.sleep(15 - into_slot)
    elif into_slot > SCHEDULER_PERIOD - WINDOW - 5:
        time.sleep(SCHEDULER_PERIOD - into_slot + 15)
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    deadline = time.monotonic() + WINDOW  # several autoscale ticks and heartbeats
    while time.monotonic() < deadline:
        noisy = _logged_at_info(compose, since)
        assert not noisy, noisy[:10]
        time.sleep(2)  # an observation window: the claim is that nothing appears in it


def _logged_at_info(compose: ComposeStack, since: str) -> list[str]:
    out = compose.compose(
        "logs", "--no-color", "--no-log-prefix", "--since", since, *APP_SERVICES[1:]
    )
    noisy = []
    for line in out.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in ("info", "warning", "error"):
            noisy.append(line)
    return noisy


def test_the_gateway_sees_the_client_address_the_proxy_saw(compose: ComposeStack) -> None:
    """The proxy sets X-Forwarded-For to who connected to it (whatever the request said)
    and the replicas trust it (FORWARDED_ALLOW_IPS): the audit trail names the client."""
    [proxy] = compose.container_ids("proxy")
    networks = compose.inspect(
        proxy, "{{range .NetworkSettings.Networks}}{{.Gateway}} {{.IPAddress}}{{end}}"
    )
    host_side, proxy_address = networks.split()  # this test connects from the host
    with compose.client(ADMIN_KEY, **{"X-Forwarded-For": "203.0.113.9"}) as admin:
        created = admin.post("/v1/ops/keys", json={"scope": "user", "user": "xff-check"})
        assert created.status_code == 201, created.text
        [entry] = [e for e in admin.get("/v1/ops/audit").json()
                   if e["target"] == created.json()["id"]]  # fmt: skip
    assert entry["from"] == host_side, (entry, proxy_address)


def test_the_image_and_every_replica_say_the_release_in_version(compose: ComposeStack) -> None:
    release = (ROOT / "VERSION").read_text().strip()
    [gateway, *_] = compose.container_ids("gateway")
    image = compose.inspect(gateway, "{{.Image}}")
    label = compose.docker_cmd(
        "inspect", "-f", '{{index .Config.Labels "org.opencontainers.image.version"}}', image
    )
    assert label == release
    answer = httpx.get(f"{compose.gateway}/healthz", timeout=10)
    assert answer.json() == {"status": "ok", "version": release}


def test_relay_on_the_host_says_it_is_not_the_stack_and_compose_reaches_it(
    compose: ComposeStack,
) -> None:
    relay = str(ROOT / ".venv" / "bin" / "relay")
    # The host's own settings (defaults: the machine's Postgres, database `postgres`).
    host = {
        key: value
        for key, value in compose.env.items()
        if key not in ("DATABASE_URL", "RABBITMQ_URL", "REDIS_URL", "REDIS_KEY_PREFIX")
    }
    host["COMPOSE_PROJECT_NAME"] = compose.project
    host["COMPOSE_FILE"] = ":".join(str(path) for path in compose.files)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [relay, *args], cwd=ROOT, env=host, capture_output=True, text=True, timeout=120
        )

    listed = run("keys", "list")
    assert "add --compose to talk to the stack" in listed.stderr, listed.stderr
    created = run("--compose", "keys", "create", "--scope", "user", "--user", "from-the-host")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "--compose" not in created.stderr
    key = created.stdout.strip().splitlines()[-1]  # printed alone on stdout
    answer = httpx.get(
        f"{compose.gateway}/v1/notifications",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
