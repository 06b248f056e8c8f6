"""A generic HTTP provider: JSON POST with `Idempotency-Key: <sms id>`.

2xx = sent (a JSON `id` in the answer is the provider id); 429, 5xx, timeout or connection
error = transient; any other 4xx = permanent. One aiohttp session per worker keeps
connections alive, so a campaign costs one request per message, not one TCP handshake.
aiohttp rather than httpx: httpcore's pool checks every idle connection on every request,
which at a campaign's concurrency cost more CPU than the rest of the send (docs/sms.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..domain import ProviderVerdict, classify_http_status
from .base import (
    Accepted,
    OutgoingSms,
    PermanentProviderError,
    TransientProviderError,
)


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    def describe(self) -> str:
        return f"{self.status} {self.text[:200]}".strip()

    def field(self, key: str) -> str | None:
        """`key` of a JSON object answer, if there is one."""
        try:
            payload = json.loads(self.text)
        except ValueError:
            return None
        value = payload.get(key) if isinstance(payload, dict) else None
        return None if value is None else str(value)


class Session:
    """One keep-alive aiohttp session, opened on first use: it belongs to the running loop."""

    def __init__(
        self, timeout: float, max_connections: int, headers: dict[str, str] | None = None
    ) -> None:
        self.timeout = timeout
        self.max_connections = max_connections
        self.headers = headers or {}
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # The provider's own time (connecting, then answering), not the wait for a
                # free pooled connection: a message queued behind a busy campaign has not
                # been tried, so it must not count as a timed-out attempt.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.timeout, sock_read=self.timeout
                ),
                connector=aiohttp.TCPConnector(
                    limit=self.max_connections, limit_per_host=self.max_connections
                ),
                headers=self.headers,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def post(session: Session, url: str, **kwargs: Any) -> Answer:
    """POST and read the answer; timeouts and connection trouble are TransientProviderError.

    Raises PermanentProviderError or TransientProviderError for a non-2xx answer.
    """
    try:
        async with session.get().post(url, **kwargs) as response:
            answer = Answer(response.status, await response.text(errors="replace"))
    except TimeoutError as error:
        raise TransientProviderError(f"timeout: {error!r}") from error
    except aiohttp.ClientError as error:
        raise TransientProviderError(f"connection error: {error!r}") from error
    verdict = classify_http_status(answer.status)
    if verdict is ProviderVerdict.transient:
        raise TransientProviderError(answer.describe())
    if verdict is ProviderVerdict.permanent:
        raise PermanentProviderError(answer.describe())
    return answer


class HttpProvider:
    name = "http"

    def __init__(self, url: str, timeout: float, max_connections: int) -> None:
        self.url = url
        self.session = Session(timeout, max_connections)

    async def send(self, sms: OutgoingSms) -> Accepted:
        answer = await post(
            self.session,
            self.url,
            json={"id": str(sms.id), "to": sms.to, "from": sms.sender, "body": sms.body},
            headers={"Idempotency-Key": str(sms.id)},
        )
        return Accepted(answer.field("id"), answer.describe())

    async def close(self) -> None:
        await self.session.close()
