"""A fake of Monetbil's checkPayment API: a real HTTP server on localhost.

Answers per `paymentId` (our callbacks' transaction_id) as the test configures:
a final status with amount and currency, pending, 503 (down) or 404 (rejected).
"""

from __future__ import annotations

import collections
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class FakeMonetbilCheck:
    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {}
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                payment_id = (form.get("paymentId") or [""])[0]
                with fake._lock:
                    fake.requests[payment_id] += 1
                    status, body = fake.answers.get(
                        payment_id, (200, {"message": "payment pending"})
                    )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/payment/v1/checkPayment"

    def start(self) -> FakeMonetbilCheck:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _set(self, payment_id: str, status: int, body: Any) -> None:
        with self._lock:
            self.answers[payment_id] = (status, body)

    def finished(self, payment_id: str, status: int, amount: Any, currency: str = "XAF") -> None:
        transaction = {
            "transaction_id": payment_id,
            "status": status,
            "amount": amount,
            "currency": currency,
        }
        self._set(payment_id, 200, {"message": "payment finish", "transaction": transaction})

    def confirm(self, payment_id: str, amount: Any, currency: str = "XAF") -> None:
        self.finished(payment_id, 1, amount, currency)

    def fail(self, payment_id: str, amount: Any, currency: str = "XAF") -> None:
        self.finished(payment_id, 0, amount, currency)

    def down(self, payment_id: str) -> None:
        self._set(payment_id, 503, {"message": "service unavailable"})

    def reject(self, payment_id: str) -> None:
        self._set(payment_id, 404, {"message": "unknown service"})

    def count(self, payment_id: str) -> int:
        with self._lock:
            return self.requests[payment_id]
