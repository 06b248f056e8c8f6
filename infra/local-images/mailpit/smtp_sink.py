"""An SMTP sink with a web UI: what relay-local/mailpit runs in place of Mailpit.

SMTP on 1025 accepts every message; HTTP on 8025 lists them (HTML at /, JSON in
Mailpit's shape under /api/v1). Messages live in memory, newest first, at most
MP_MAX_MESSAGES of them (Mailpit's variable; 500 by default as in Mailpit).
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import os
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

MAX_MESSAGES = int(os.environ.get("MP_MAX_MESSAGES", "500"))
messages: deque[dict] = deque(maxlen=MAX_MESSAGES)
lock = threading.Lock()


def address(text: str) -> dict:
    name, addr = email.utils.parseaddr(text)
    return {"Name": name, "Address": addr}


class Sink:
    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain", "html"))
        record = {
            "ID": uuid.uuid4().hex,
            "MessageID": parsed.get("Message-ID", ""),
            "From": address(envelope.mail_from or ""),
            "To": [address(to) for to in envelope.rcpt_tos],
            "Subject": str(parsed.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat(),
            "Size": len(raw),
            "Snippet": (body.get_content() if body else "")[:200],
        }
        with lock:
            messages.appendleft(record)
        return "250 Message accepted"


def accept_any(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=True)


class Ui(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:
        with lock:
            listed = list(messages)
        path = self.path.split("?", 1)[0]
        if path in ("/livez", "/readyz"):
            self._send(200, b"ok", "text/plain")
        elif path == "/api/v1/messages":
            self._json(200, {"total": len(listed), "count": len(listed), "messages": listed})
        elif path.startswith("/api/v1/message/"):
            found = [m for m in listed if m["ID"] == path.rsplit("/", 1)[-1]]
            self._json(200, found[0]) if found else self._json(404, {"error": "not found"})
        elif path == "/":
            rows = "".join(
                f"<tr><td>{html.escape(m['Created'])}</td>"
                f"<td>{html.escape(', '.join(t['Address'] for t in m['To']))}</td>"
                f"<td>{html.escape(m['Subject'])}</td></tr>"
                for m in listed
            )
            page = (
                "<!doctype html><title>Mail sink</title><h1>Mail sink</h1>"
                f"<p>{len(listed)} message(s), newest first.</p>"
                f"<table><tr><th>received</th><th>to</th><th>subject</th></tr>{rows}</table>"
            )
            self._send(200, page.encode(), "text/html; charset=utf-8")
        else:
            self._json(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        if self.path.split("?", 1)[0] == "/api/v1/messages":
            with lock:
                messages.clear()
            self._send(200, b"ok", "text/plain")
        else:
            self._json(404, {"error": "not found"})

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet, like Mailpit at its default level


def main() -> None:
    controller = Controller(
        Sink(),
        hostname="0.0.0.0",
        port=1025,
        authenticator=accept_any,
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    print("smtp sink: SMTP on 1025, web UI on 8025", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8025), Ui).serve_forever()


if __name__ == "__main__":
    main()
