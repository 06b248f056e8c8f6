"""Backing services restarted or down, survived strictly: no app container exits or
restarts, campaigns complete with exact counts, and a process started while Postgres or
Redis is down waits for it, then serves."""

from __future__ import annotations

import threading
from types import TracebackType

import httpx
import pytest

from tests.compose.flows import (
    numbers,
    progress_or_none,
    start_campaign,
    wait_campaign_sent,
)
from tests.support import eventually
from tests.support.compose import ComposeStack

APP_SERVICES = ("proxy", "gateway", "sms", "payments", "tournaments", "scheduler", "notifications")


class ReadPoller:
    """GETs `path` every 0.2 s in a thread while the block runs; keeps what came back."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.client = client
        self.path = path
        self.answers: list[int | str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ReadPoller:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.answers.append(self.client.get(self.path).status_code)
            except httpx.HTTPError as error:
                self.answers.append(repr(error))
            self._stop.wait(0.2)


def app_lifetimes(compose: ComposeStack) -> dict[str, str]:
    containers = compose.app_containers()
    assert set(containers.values()) >= set(APP_SERVICES), containers
    return compose.lifetimes(list(containers))


@pytest.mark.parametrize(("backing", "start"), [("rabbitmq", 300_000), ("postgres", 400_000)])
def test_backing_service_restart_mid_campaign_loses_nothing_and_stops_no_process(
    compose: ComposeStack, backing: str, start: int
) -> None:
    before = app_lifetimes(compose)
    sent_before = compose.fake_sms_stats()

    with compose.client() as client, compose.client() as reader:
        campaign = start_campaign(client, numbers(5000, start=start), f"compose-{backing}")

        def mid_campaign() -> bool:
            body = progress_or_none(client, campaign["id"])
            assert body is not None and 0 < body["sent"] < 4000, body
            return True

        eventually(mid_campaign, timeout=120, interval=0.2)
        with ReadPoller(reader, f"/v1/campaigns/{campaign['id']}") as reads:
            compose.compose("restart", backing, timeout=180)
            eventually(compose.ready, timeout=120, interval=0.5)
        if backing == "rabbitmq":
            # Reads need Postgres only: while no replica is ready, the proxy still sends
            # them to the live ones (infra/haproxy/haproxy.cfg, gateways-live).
            assert reads.answers and set(reads.answers) == {200}, reads.answers

        final = wait_campaign_sent(client, campaign["id"], timeout=400)
        assert final["sent"] == 5000

    sent_after = compose.fake_sms_stats()
    assert sent_after["deliveries"] - sent_before["deliveries"] == 5000

    def recovered() -> bool:
        for service in APP_SERVICES:
            assert compose.healthy(service), f"{service} unhealthy after {backing} restarted"
        return True

    eventually(recovered, timeout=180, interval=2)
    exits = compose.exits_since(before)
    assert not exits, f"app containers exited or restarted after {backing} restarted:\n{exits}"


@pytest.mark.parametrize(
    ("dependency", "service", "waiting"),
    [
        ("postgres", "payments", "waiting for postgres (to migrate)"),
        ("redis", "gateway", "waiting for redis"),
    ],
)
def test_a_process_started_while_a_dependency_is_down_waits_then_serves(
    compose: ComposeStack, dependency: str, service: str, waiting: str
) -> None:
    before = app_lifetimes(compose)
    replicas = compose.container_ids(service)
    compose.compose("stop", dependency, timeout=120)
    new = ""
    try:
        compose.compose(
            "up", "--detach", "--no-deps", "--no-recreate", "--no-build",
            "--scale", f"{service}={len(replicas) + 1}", service, timeout=120,
        )  # fmt: skip
        [new] = set(compose.container_ids(service)) - set(replicas)

        def says_it_waits() -> bool:
            assert waiting in compose.logs(new)
            return True

        eventually(says_it_waits, timeout=120, interval=1)
        [started] = compose.lifetimes([new]).values()
        assert started.startswith("running ") and started.endswith("restarts=0"), started
    finally:
        compose.compose("start", dependency, timeout=180)
    try:

        def serving() -> bool:
            health = compose.inspect(new, "{{.State.Health.Status}}")
            assert health == "healthy", f"{service} started while {dependency} was down: {health}"
            return True

        eventually(serving, timeout=240, interval=2)
        assert compose.lifetimes([new]) == {new: started}, "it exited and was restarted"
        exits = compose.exits_since(before)
        assert not exits, f"app containers exited while {dependency} was down:\n{exits}"
    finally:
        compose.docker_cmd("stop", new, timeout=120)
        compose.docker_cmd("rm", new)
