"""What a careless or hostile client can make the edge do with a request body: bounded by
MAX_BODY_BYTES (JSON) and WEBHOOK_MAX_BYTES (provider callbacks) without reading further,
timed by BODY_READ_TIMEOUT; and no configuration detail in an anonymous caller's error.

Bodies are sent over raw sockets, so a test controls exactly what is announced and what is
sent; what the gateway read is its `relay_http_request_body_read_bytes_total` counter.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.payments_signing import stripe_event, stripe_header
from tests.support import USER_KEY, ServiceUrls, Stack, fresh_database, fresh_vhost

pytestmark = pytest.mark.e2e

MAX_BODY = 200_000
WEBHOOK_MAX = 50_000
READ_TIMEOUT = 1.0
# What the server may hold past the limit: the message that crossed it. Uvicorn hands the
# app what it buffered, up to its 64 KiB high-water mark plus one socket read (256 KiB).
SLACK = 64 * 1024 + 256 * 1024
CALLBACKS = (
    "/v1/webhooks/stripe",
    "/v1/webhooks/monetbil",
    "/v1/sms/status",
    "/v1/sms/inbound",
    "/v1/sms/twilio/status",
    "/v1/sms/twilio/inbound",
)


@pytest.fixture(scope="module")
def gateway(services: ServiceUrls) -> Iterator[Stack]:
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        env = {
            "RABBITMQ_URL": vhost,
            "RABBITMQ_MANAGEMENT_URL": services.management,
            "DATABASE_URL": database,
            "REDIS_URL": services.redis,
            "REDIS_KEY_PREFIX": f"test:{uuid.uuid4().hex[:10]}:",
            "MAX_BODY_BYTES": MAX_BODY,
            "WEBHOOK_MAX_BYTES": WEBHOOK_MAX,
            "BODY_READ_TIMEOUT": READ_TIMEOUT,
            # No STRIPE_WEBHOOK_SECRET / MONETBIL_SERVICE_SECRET: an unset setting must not
            # show in an anonymous answer.
            "STRIPE_WEBHOOK_SECRET": "",
            "MONETBIL_SERVICE_SECRET": "",
        }
        stack = Stack(env, name="gateway_limits")
        try:
            stack.start("gateway")
            stack.wait_ready()
            yield stack
        finally:
            stack.stop()


# --- a raw HTTP/1.1 client ---------------------------------------------------------------


class RawRequest:
    """One request on its own socket: its head, then whatever body the test sends; the
    answer is read on a thread as it arrives (before a reset could discard it)."""

    def __init__(self, stack: Stack, path: str, headers: dict[str, str]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
        self.answer = bytearray()
        self.closed = threading.Event()
        self.closed_at = 0.0
        threading.Thread(target=self._read, daemon=True).start()
        head = [
            f"POST {path} HTTP/1.1",
            "Host: gateway",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        self.started = time.monotonic()

    def _read(self) -> None:
        try:
            while data := self.sock.recv(65536):
                self.answer.extend(data)
        except OSError:
            pass
        self.closed_at = time.monotonic()
        self.closed.set()

    def send(self, data: bytes) -> bool:
        """False once the server stopped taking the body (it answered or closed)."""
        if self.answer or self.closed.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def status(self, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.answer and time.monotonic() < deadline:
            if self.closed.wait(0.01) and b"\r\n" not in self.answer:
                break
        line = bytes(self.answer).split(b"\r\n", 1)[0]
        assert line.startswith(b"HTTP/1.1 "), f"no answer, got {bytes(self.answer)[:200]!r}"
        return int(line.split()[1])

    def close(self) -> None:
        self.sock.close()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _body_read(stack: Stack, limit: str) -> float:
    text = httpx.get(f"{stack.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "relay_http_request_body_read_bytes":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get("limit") == limit:
                    return sample.value
    return 0.0


def _stream_until_refused(
    stack: Stack, path: str, limit: str, headers: dict[str, str], total: int
) -> tuple[int, float]:
    """Send a chunked body of `total` bytes until the gateway answers: (status, bytes the
    gateway read of it)."""
    before = _body_read(stack, limit)
    request = RawRequest(stack, path, {**headers, "Transfer-Encoding": "chunked"})
    try:
        piece = b" " * 16_384
        sent = 0
        while sent < total and request.send(_chunk(piece)):
            sent += len(piece)
        status = request.status()
    finally:
        request.close()
    return status, _body_read(stack, limit) - before


# --- MAX_BODY_BYTES ---------------------------------------------------------------------


def test_a_json_body_announced_over_max_body_bytes_is_413_before_any_of_it_is_sent(
    gateway: Stack,
) -> None:
    request = RawRequest(
        gateway,
        "/v1/sms",
        {
            "Authorization": f"Bearer {USER_KEY}",
            "Content-Type": "application/json",
            "Content-Length": str(MAX_BODY + 1),
        },
    )
    try:
        assert request.status() == 413  # not one byte of the body was sent
        assert request.closed.wait(5), "the connection stays open after a 413"
    finally:
        request.close()


def test_a_chunked_json_body_growing_past_max_body_bytes_is_413_without_reading_on(
    gateway: Stack,
) -> None:
    status, read = _stream_until_refused(
        gateway,
        "/v1/campaigns",
        "max_body",
        {"Authorization": f"Bearer {USER_KEY}", "Content-Type": "application/json"},
        total=20_000_000,
    )
    print(f"MAX_BODY_BYTES={MAX_BODY}: 413 after reading {read:.0f} of 20,000,000 bytes")
    assert status == 413
    assert MAX_BODY < read <= MAX_BODY + SLACK, read


def test_a_csv_upload_larger_than_max_body_bytes_keeps_its_own_limits(gateway: Stack) -> None:
    rows = "\n".join(f"+24177{n:06d},Name {n}" for n in range(20_000))
    body = f"phone,name\n{rows}\n".encode()
    assert len(body) > MAX_BODY
    with gateway.client(USER_KEY) as client:
        answer = client.post(
            "/v1/campaigns",
            params={"name": "big", "message": "hi #name"},
            content=body,
            headers={"Content-Type": "text/csv"},
        )
    assert answer.status_code == 202, answer.text[:500]
    assert answer.json()["total"] == 20_000


# --- WEBHOOK_MAX_BYTES -------------------------------------------------------------------


def test_every_provider_callback_announced_over_webhook_max_bytes_is_413(gateway: Stack) -> None:
    for path in CALLBACKS:
        for content_type in ("application/json", "application/x-www-form-urlencoded"):
            request = RawRequest(
                gateway,
                path,
                {"Content-Type": content_type, "Content-Length": str(WEBHOOK_MAX + 1)},
            )
            try:
                assert request.status() == 413, (path, content_type)
            finally:
                request.close()
    # The same size on an ordinary endpoint is within MAX_BODY_BYTES: read and judged.
    with gateway.client(USER_KEY) as client:
        ordinary = client.post("/v1/sms", json={"to": "+24177000001", "message": "x" * WEBHOOK_MAX})
    assert ordinary.status_code == 422 and ordinary.json()["errors"][0]["field"] == "message"


def test_a_chunked_stripe_webhook_growing_past_webhook_max_bytes_is_413_without_reading_on(
    gateway: Stack,
) -> None:
    status, read = _stream_until_refused(
        gateway,
        "/v1/webhooks/stripe",
        "webhook",
        {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"},
        total=30_000_000,
    )
    print(f"WEBHOOK_MAX_BYTES={WEBHOOK_MAX}: 413 after reading {read:.0f} of 30,000,000 bytes")
    assert status == 413
    assert WEBHOOK_MAX < read <= WEBHOOK_MAX + SLACK, read


# --- BODY_READ_TIMEOUT -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/sms", "application/json"),
        ("/v1/webhooks/stripe", "application/json"),
        ("/v1/campaigns", "text/csv"),
    ],
)
def test_a_stalled_body_is_408_within_the_read_timeout_and_its_connection_closed(
    gateway: Stack, path: str, content_type: str
) -> None:
    request = RawRequest(
        gateway,
        path + ("?name=n&message=m" if content_type == "text/csv" else ""),
        {
            "Authorization": f"Bearer {USER_KEY}",
            "Content-Type": content_type,
            "Content-Length": "100",
        },
    )
    try:
        request.send(b'{"')  # 2 of the 100 bytes announced, then nothing
        assert request.status(timeout=READ_TIMEOUT + 5) == 408
        assert request.closed.wait(READ_TIMEOUT + 5), "the connection stays open after a 408"
        took = request.closed_at - request.started
        print(f"stalled body on {path}: 408 and closed after {took:.2f} s")
        assert took <= READ_TIMEOUT + 1, took
    finally:
        request.close()


def test_a_body_dripping_in_is_408_once_its_reading_took_the_read_timeout(gateway: Stack) -> None:
    request = RawRequest(
        gateway,
        "/v1/sms",
        {
            "Authorization": f"Bearer {USER_KEY}",
            "Content-Type": "application/json",
            "Content-Length": "100",
        },
    )
    try:
        # A byte every 0.2 s never leaves the connection idle for long, yet 100 bytes would
        # take 20 s: the time spent waiting for the body is what counts.
        while request.send(b" ") and time.monotonic() - request.started < 10:
            time.sleep(0.2)
        assert request.status() == 408
        assert request.closed.wait(5)
        assert request.closed_at - request.started <= READ_TIMEOUT + 1
    finally:
        request.close()
    with gateway.client(USER_KEY) as client:  # the gateway still serves others
        assert (
            client.post("/v1/sms", json={"to": "+24177000001", "message": "hi"}).status_code == 202
        )


# --- anonymous callers ---------------------------------------------------------------------


def test_an_anonymous_caller_learns_nothing_of_the_configuration(gateway: Stack) -> None:
    payload = stripe_event("payment_intent.succeeded", str(uuid.uuid4()))
    with httpx.Client(base_url=gateway.url, timeout=15) as anonymous:
        answers: list[httpx.Response] = [
            anonymous.post(
                "/v1/webhooks/stripe",
                content=payload,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": stripe_header(payload, "whsec_guess"),
                },
            ),
            anonymous.post("/v1/webhooks/monetbil", data={"item_ref": "x", "sign": "00"}),
        ]
    assert [a.status_code for a in answers] == [400, 403]
    for answer in answers:
        text = answer.text.lower()
        assert "secret" not in text and "configured" not in text, answer.text
    # The operator still finds out why, in the log.
    log = gateway.tail("gateway", lines=400)
    assert "STRIPE_WEBHOOK_SECRET is not configured" in log
    assert "MONETBIL_SERVICE_SECRET is not configured" in log
