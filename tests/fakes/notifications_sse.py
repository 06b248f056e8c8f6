"""A Server-Sent Events client for tests: reads a real stream in a thread, timestamps events.

It stands in for a browser's EventSource: the gateway's real streaming code runs.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SseEvent:
    id: str | None
    event: str
    data: str
    received_at: float

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SseClient:
    """Connects to `url`, parses events into `events` (a queue) until closed."""

    url: str
    key: str
    last_event_id: str | None = None
    events: queue.Queue[SseEvent] = field(default_factory=queue.Queue)
    comments: list[str] = field(default_factory=list)
    opened: threading.Event = field(default_factory=threading.Event)
    status: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _response: httpx.Response | None = None

    def __enter__(self) -> SseClient:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self.opened.wait(30):
            raise AssertionError(f"SSE stream {self.url} did not open within 30s")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._response is not None:
            # Shut the socket down: that is what unblocks the reader thread mid-read
            # (and makes the gateway see the client leave, as a browser tab closing would).
            stream = self._response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        timeout = httpx.Timeout(10, read=None)
        try:
            with (
                httpx.Client(timeout=timeout) as client,
                client.stream("GET", self.url, headers=headers) as response,
            ):
                self._response = response
                self.status = response.status_code
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if not self.opened.is_set() and (line.startswith(":") or line == ""):
                        # The gateway's first bytes: the stream is subscribed and live.
                        self.opened.set()
                    if self._stop.is_set():
                        return
                    if line.startswith(":"):
                        self.comments.append(line[1:].strip())
                    elif line == "":
                        if "data" in fields:
                            self.events.put(
                                SseEvent(
                                    fields.get("id"),
                                    fields.get("event", "message"),
                                    fields["data"],
                                    time.monotonic(),
                                )
                            )
                        fields = {}
                    else:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except (httpx.HTTPError, RuntimeError, OSError):
            return
        finally:
            self.opened.set()

    def next(self, timeout: float = 10) -> SseEvent:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no SSE event within {timeout}s") from None

    def take(self, count: int, timeout: float = 10) -> list[SseEvent]:
        deadline = time.monotonic() + timeout
        return [self.next(max(0.01, deadline - time.monotonic())) for _ in range(count)]

    def assert_quiet(self, seconds: float) -> None:
        """No further event arrives within `seconds` (no duplicates after a replay)."""
        try:
            extra = self.events.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected extra event: {extra}")
