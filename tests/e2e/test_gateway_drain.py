"""The gateway behind a proxy: it drains before it stops, and reads the client's address
from a trusted proxy's X-Forwarded-For only."""

from __future__ import annotations

import signal
import time
from typing import Any

import httpx

from tests.support import eventually
from tests.support.stack import ADMIN_KEY

DRAIN = 3.0


def test_sigterm_answers_readyz_503_while_still_serving_then_stops(stack: Any) -> None:
    stack.start("gateway", GATEWAY_DRAIN_SECONDS=DRAIN)
    stack.wait_ready()
    with stack.client() as client:
        assert client.get("/v1/notifications").status_code == 200  # a kept-alive connection
        stack.signal("gateway", signal.SIGTERM)
        signalled = time.monotonic()

        def draining() -> dict[str, Any]:
            answer = client.get("/readyz")
            assert answer.status_code == 503, answer.text
            return dict(answer.json())

        body = eventually(draining, timeout=2, interval=0.05)
        assert body["status"] == "draining"
        # The proxy has the drain to notice; meanwhile every request is still answered,
        # on the open connection and on new ones.
        served = 0
        while time.monotonic() - signalled < DRAIN - 1:
            assert client.get("/v1/notifications").status_code == 200
            assert httpx.get(f"{stack.url}/healthz", timeout=5).status_code == 200
            served += 1
        assert served > 0

    status = stack.processes["gateway"].wait(30)
    stopped_after = time.monotonic() - signalled
    assert stopped_after >= DRAIN - 0.2, stopped_after
    assert status in (0, -signal.SIGTERM), stack.tail("gateway")
    assert "drained: no longer accepting" in stack.tail("gateway", 200)


def _audited_origin(client: httpx.Client, **headers: str) -> str:
    created = client.post("/v1/ops/keys", json={"scope": "user", "user": "u-9"}, headers=headers)
    assert created.status_code == 201, created.text
    [entry] = [e for e in client.get("/v1/ops/audit").json() if e["target"] == created.json()["id"]]
    origin: str = entry["from"]
    return origin


def test_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(stack: Any) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    # The default trusts a proxy on the same host (127.0.0.1), as uvicorn's does.
    stack.start("gateway")
    stack.wait_ready()
    with stack.client(ADMIN_KEY) as admin:
        assert _audited_origin(admin, **forwarded) == "203.0.113.7"
        assert _audited_origin(admin) == "127.0.0.1"
    stack.terminate("gateway")

    # A peer outside FORWARDED_ALLOW_IPS is the client itself, whatever it claims.
    stack.start("gateway", FORWARDED_ALLOW_IPS="10.0.0.0/8")
    stack.wait_ready()
    with stack.client(ADMIN_KEY) as admin:
        assert _audited_origin(admin, **forwarded) == "127.0.0.1"
