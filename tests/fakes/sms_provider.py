"""A fake SMS provider: a real HTTP server on localhost, so the real provider clients run.

It speaks both the generic `http` provider's JSON API and Twilio's Messages API, and
de-duplicates by `Idempotency-Key` like real providers do: a repeated key after a success
gets the first answer again and is not a new delivery. Tests steer it (answer 503 to all,
fail the next N, refuse a number, add latency) and read what it delivered.

In-process: `with FakeProvider() as fake: ... fake.url`. As a process (benchmarks):
`python -m tests.fakes.sms_provider --port 9100`; GET /stats answers the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.support.stack import free_port


@dataclass
class Delivery:
    key: str
    to: str
    body: str
    sender: str
    provider_id: str
    at: float  # when the request arrived


@dataclass
class FakeState:
    status: int = 200  # answer to every request (503 = provider down)
    latency: float = 0.0
    fail_next: list[int] = field(default_factory=list)  # statuses for the next requests
    refuse: dict[str, int] = field(default_factory=dict)  # number -> status, always
    flaky: dict[str, list[int]] = field(default_factory=dict)  # number -> its next statuses
    calls: list[dict[str, Any]] = field(default_factory=list)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    keep_calls: bool = True
    call_count: int = 0
    duplicates: int = 0
    # Kept as deliveries arrive: /stats is polled while a benchmark runs, and scanning
    # 100,000 deliveries per poll would make the fake slower the longer it runs.
    first_at: float | None = None
    last_at: float | None = None


class FakeProvider:
    def __init__(self, port: int | None = None, keep_calls: bool = True) -> None:
        self.port = port or free_port()
        self.state = FakeState(keep_calls=keep_calls)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ steering

    @property
    def url(self) -> str:
        """Where SMS_HTTP_URL should point."""
        return f"http://127.0.0.1:{self.port}/sms"

    @property
    def base_url(self) -> str:
        """Where SMS_TWILIO_BASE_URL should point."""
        return f"http://127.0.0.1:{self.port}"

    def answer_all(self, status: int) -> None:
        self.state.status = status

    def fail_next(self, *statuses: int) -> None:
        self.state.fail_next.extend(statuses)

    def refuse(self, number: str, status: int = 400) -> None:
        self.state.refuse[number] = status

    def fail_number(self, number: str, *statuses: int) -> None:
        """Answer the next requests for `number` with `statuses`, then normally."""
        self.state.flaky.setdefault(number, []).extend(statuses)

    # ------------------------------------------------------------------ reading

    @property
    def deliveries(self) -> dict[str, Delivery]:
        return dict(self.state.deliveries)

    def calls_for(self, key: str) -> list[dict[str, Any]]:
        return [call for call in list(self.state.calls) if call["key"] == key]

    def deliveries_per_number(self) -> Counter[str]:
        return Counter(d.to for d in list(self.state.deliveries.values()))

    # ------------------------------------------------------------------ the ASGI app

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client died mid-request (a SIGKILLed worker): like a real provider,
                # a request whose body never fully arrived is not a message.
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET" and scope["path"] == "/stats":
            await _answer(send, 200, self.stats())
            return
        if scope["method"] == "GET" and scope["path"].startswith("/deliveries/"):
            found = self.state.deliveries.get(scope["path"].rsplit("/", 1)[1])
            await _answer(send, 200, {"at": found.at if found else None})
            return
        if scope["method"] == "GET" and scope["path"] == "/timeline":
            # When each delivery arrived, in order, from `?since=<epoch seconds>` on: the
            # tests measure sending rates and gaps (a broker failover) from it.
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode())
            since = float(query.get("since", ["0"])[0])
            times = sorted(d.at for d in list(self.state.deliveries.values()) if d.at >= since)
            await _answer(send, 200, {"at": times})
            return
        if scope["method"] == "POST" and scope["path"] == "/steer/fail-number":
            # Steering from outside the container: `{"number", "statuses"}` answers the
            # next requests for that number with these statuses (fail_number).
            order = json.loads(body or b"{}")
            self.fail_number(order["number"], *order["statuses"])
            await _answer(send, 200, {"number": order["number"]})
            return
        status, payload = await self.handle(scope, body)
        await _answer(send, status, payload)

    def stats(self) -> dict[str, Any]:
        state = self.state
        return {
            "calls": state.call_count,
            "deliveries": len(state.deliveries),
            "duplicates": state.duplicates,
            # Scripted failures not answered yet (fail_number, /steer/fail-number).
            "scripted_pending": sum(len(statuses) for statuses in state.flaky.values()),
            "first_at": state.first_at,
            "last_at": state.last_at,
            "delivered_at": {key: d.at for key, d in state.deliveries.items()}
            if len(state.deliveries) <= 100
            else {},
        }

    async def handle(self, scope: dict[str, Any], body: bytes) -> tuple[int, dict[str, Any]]:
        state = self.state
        received = time.time()  # when the request reached us, before any scripted latency
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        twilio = scope["path"].endswith("/Messages.json")
        if twilio:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            to, text, sender = form.get("To", ""), form.get("Body", ""), form.get("From", "")
            key = headers.get("idempotency-key") or f"twilio-{uuid.uuid4()}"
            headers["x-status-callback"] = form.get("StatusCallback", "")
        else:
            payload = json.loads(body or b"{}")
            to, text, sender = (
                payload.get("to", ""),
                payload.get("body", ""),
                payload.get("from", ""),
            )
            key = headers.get("idempotency-key") or payload.get("id") or str(uuid.uuid4())
        state.call_count += 1
        if state.keep_calls:
            state.calls.append(
                {"key": key, "to": to, "body": text, "from": sender, "headers": headers,
                 "path": scope["path"], "at": received}
            )  # fmt: skip
        if state.latency:
            await asyncio.sleep(state.latency)
        if state.fail_next:
            return state.fail_next.pop(0), {"error": "scripted failure"}
        if state.flaky.get(to):
            return state.flaky[to].pop(0), {"error": "scripted failure"}
        if to in state.refuse:
            return state.refuse[to], {"error": f"number {to} refused"}
        if state.status >= 300:
            return state.status, {"error": "provider unavailable"}
        known = state.deliveries.get(key)
        if known is not None:
            state.duplicates += 1  # the same message again: answer as before, deliver nothing
        else:
            known = Delivery(key, to, text, sender, f"fake-{uuid.uuid4().hex[:16]}", received)
            state.deliveries[key] = known
            state.first_at = received if state.first_at is None else min(state.first_at, received)
            state.last_at = received if state.last_at is None else max(state.last_at, received)
        if twilio:
            return 201, {"sid": known.provider_id, "status": "queued", "to": to}
        return 200, {"id": known.provider_id, "status": "accepted"}

    # ------------------------------------------------------------------ serving

    def __enter__(self) -> FakeProvider:
        config = uvicorn.Config(
            self.app,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake sms provider did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


async def _answer(send: Any, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    # 0.0.0.0 when the fake runs in a container of the compose test stack.
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeProvider(args.port, keep_calls=False)
    fake.state.latency = args.latency
    uvicorn.run(fake.app, host=args.host, port=args.port, log_level="warning", lifespan="off",
                access_log=False, interface="asgi3")  # fmt: skip


if __name__ == "__main__":
    main()
