"""A fake Sentry: a real HTTP server on localhost that takes sentry-sdk's envelopes.

Point SENTRY_DSN at `sentry.dsn`; the events it received are in `sentry.events`.
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def events_of(envelope: bytes) -> list[dict[str, Any]]:
    """The `event` items of a Sentry envelope (a header line, then item header + payload)."""
    lines = envelope.split(b"\n")
    found = []
    index = 1
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        header = json.loads(lines[index])
        payload = lines[index + 1] if index + 1 < len(lines) else b""
        if header.get("type") == "event":
            found.append(json.loads(payload))
        index += 2
    return found


class FakeSentry:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        events, raw = self.events, self.raw

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    body = brotli.decompress(body)
                raw.append(body)
                events.extend(events_of(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://relaytestkey@127.0.0.1:{self.server.server_address[1]}/1"

    def __enter__(self) -> FakeSentry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
