"""`make deploy` (infra/rolling-restart.sh) under traffic: every app container replaced one
at a time, not one answer >= 500 nor a refused connection, nothing lost, nothing done twice,
and live streams carried over to the new replicas with Last-Event-ID."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import httpx

from tests.compose.flows import numbers, start_campaign, wait_campaign_sent
from tests.fakes.notifications_sse import SseClient
from tests.support import eventually
from tests.support.compose import ADMIN_KEY, ROOT, ComposeStack

ROLLED = ("gateway", "sms", "payments", "tournaments", "scheduler", "notifications")


class Traffic:
    """Calls `send` every `every` seconds in a thread until stopped; keeps what it got."""

    def __init__(self, every: float, send: Callable[[], httpx.Response]) -> None:
        self.every = every
        self.send = send
        self.answers: list[httpx.Response] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.answers.append(self.send())
            except httpx.HTTPError as error:
                self.errors.append(repr(error))
            self._stop.wait(max(0.0, self.every - (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def statuses(self) -> Counter[int]:
        return Counter(answer.status_code for answer in self.answers)


class FollowedStream:
    """A user's SSE stream that reconnects with Last-Event-ID whenever it ends, as a
    browser's EventSource does; keeps the id of every notification event it got."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.notifications: list[str] = []
        self.last_event_id: str | None = None
        self.connections = 0
        self.opened = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.connections += 1
            stream = SseClient(self.url, self.key, last_event_id=self.last_event_id)
            try:
                with stream:
                    self.opened.set()
                    while not self._stop.is_set():
                        self._drain(stream)
                        if stream._thread is None or not stream._thread.is_alive():
                            break  # the stream ended: its replica stopped
                        time.sleep(0.1)
            except AssertionError:
                pass  # did not open in time; try again
            self._drain(stream)
            self._stop.wait(0.5)

    def _drain(self, stream: SseClient) -> None:
        while not stream.events.empty():
            event = stream.events.get()
            if event.event == "notification":
                self.notifications.append(event.json()["id"])
                self.last_event_id = event.id

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def rolling_restart(compose: ComposeStack) -> subprocess.CompletedProcess[str]:
    env = {
        **compose.env,
        "COMPOSE_PROJECT_NAME": compose.project,
        "COMPOSE_FILE": os.pathsep.join(str(path) for path in compose.files),
    }
    return subprocess.run(
        ["bash", "infra/rolling-restart.sh", "--no-build"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip


def stored_notification_ids(client: httpx.Client) -> list[str]:
    ids: list[str] = []
    before: int | None = None
    while True:
        page = client.get("/v1/notifications", params={"limit": 100, **({"before": before} if before else {})}).json()  # fmt: skip
        ids += [item["id"] for item in page["items"]]
        before = page["next_before"]
        if before is None:
            return ids


def test_rolling_restart_under_traffic_loses_nothing_and_answers_no_error(
    compose: ComposeStack,
) -> None:
    before = compose.app_containers()
    [proxy] = compose.container_ids("proxy")
    user = f"deploy-{uuid.uuid4().hex[:8]}"
    with compose.client(ADMIN_KEY) as admin:
        created = admin.post("/v1/ops/keys", json={"scope": "user", "user": user})
        assert created.status_code == 201, created.text
        key = created.json()["key"]
    sent_before = compose.fake_sms_stats()

    with (
        compose.client() as campaigner,
        compose.client(key) as notifier,
        compose.client(key) as texter,
        compose.client(key) as reader,
    ):
        # Long enough (40 chunks a second apart) that the sms worker restarts mid-campaign.
        campaign = start_campaign(campaigner, numbers(10_000, start=700_000), "compose-deploy")
        stream = FollowedStream(f"{compose.gateway}/v1/notifications/stream", key)
        assert stream.opened.wait(60), "the SSE stream did not open"
        phones = iter(numbers(2000, start=800_000))
        traffic = {
            "notify": Traffic(0.1, lambda: notifier.post("/v1/notifications", json={
                "user_id": user, "title": "deploy", "message": "m", "priority": "normal"})),
            "sms": Traffic(1.0, lambda: texter.post("/v1/sms", json={
                "to": next(phones), "message": "deploy"})),
            "read": Traffic(0.25, lambda: reader.get("/v1/notifications", params={"limit": 1})),
        }  # fmt: skip
        try:
            time.sleep(3)  # traffic before the deploy
            deploy = rolling_restart(compose)
            time.sleep(3)  # and after it
        finally:
            for running in traffic.values():
                running.stop()
        assert deploy.returncode == 0, f"{deploy.stdout}\n{deploy.stderr}"
        print(deploy.stdout)

        # Not one failed answer, and requests were served throughout.
        expected = {"notify": 202, "sms": 202, "read": 200}
        for name, running in traffic.items():
            assert not running.errors, f"{name}: {running.errors[:5]}"
            assert set(running.statuses()) == {expected[name]}, (name, running.statuses())
        notified = [answer.json()["id"] for answer in traffic["notify"].answers]
        texts = [answer.json()["id"] for answer in traffic["sms"].answers]
        assert len(notified) > 100 and texts

        # Every job done once: notifications stored, SMS and campaign sent once each.
        def all_stored() -> bool:
            stored = stored_notification_ids(reader)
            assert sorted(stored) == sorted(notified), (len(stored), len(notified))
            return True

        eventually(all_stored, timeout=180, interval=2)

        def all_sent() -> bool:
            statuses = Counter(texter.get(f"/v1/sms/{sms_id}").json()["status"] for sms_id in texts)
            assert statuses == {"sent": len(texts)}, statuses
            return True

        eventually(all_sent, timeout=180, interval=2)
        assert wait_campaign_sent(campaigner, campaign["id"], timeout=400)["sent"] == 10_000
        eventually(lambda: sorted(stream.notifications) == sorted(notified), timeout=60,
                   interval=0.5)  # fmt: skip
        stream.stop()
        assert len(stream.notifications) == len(set(stream.notifications))
    sent_after = compose.fake_sms_stats()
    assert sent_after["deliveries"] - sent_before["deliveries"] == 10_000 + len(texts)
    assert sent_after["duplicates"] == sent_before["duplicates"]

    # Every app container replaced (one line each), the proxy reloaded in place.
    lines = re.findall(r"^rolling-restart: service=(\S+) old=(\S+) new=(\S+)", deploy.stdout, re.M)
    replaced = Counter(service for service, _, _ in lines)
    assert replaced == Counter(before.values()), replaced
    after = compose.app_containers()
    assert set(after) & set(before) == {proxy}, "a container was not replaced"
    assert Counter(after.values()) == Counter(before.values())
    # Docker's own health status follows at its next check interval.
    eventually(lambda: all(compose.healthy(s) for s in (*ROLLED, "proxy")), timeout=120, interval=2)
