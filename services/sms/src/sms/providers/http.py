"""A generic HTTP provider: JSON POST with `Idempotency-Key: <sms id>`.

2xx = sent (a JSON `id` in the answer is the provider id); 429, 5xx, timeout or connection
error = transient; any other 4xx = permanent. One AsyncClient per worker keeps connections
alive, so a campaign costs one request per message, not one TCP handshake.
"""

from __future__ import annotations

import httpx

from ..domain import ProviderVerdict, classify_http_status
from .base import (
    Accepted,
    OutgoingSms,
    PermanentProviderError,
    TransientProviderError,
)


def answer_text(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:200]}".strip()


def provider_id_of(response: httpx.Response, key: str) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    value = payload.get(key) if isinstance(payload, dict) else None
    return None if value is None else str(value)


def raise_for_verdict(response: httpx.Response) -> None:
    verdict = classify_http_status(response.status_code)
    if verdict is ProviderVerdict.transient:
        raise TransientProviderError(answer_text(response))
    if verdict is ProviderVerdict.permanent:
        raise PermanentProviderError(answer_text(response))


async def post(client: httpx.AsyncClient, url: str, **kwargs: object) -> httpx.Response:
    """POST, turning timeouts and connection trouble into TransientProviderError."""
    try:
        return await client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException as error:
        raise TransientProviderError(f"timeout: {error!r}") from error
    except httpx.TransportError as error:
        raise TransientProviderError(f"connection error: {error!r}") from error


class HttpProvider:
    name = "http"

    def __init__(self, url: str, timeout: float, max_connections: int) -> None:
        self.url = url
        self.client = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def send(self, sms: OutgoingSms) -> Accepted:
        response = await post(
            self.client,
            self.url,
            json={"id": str(sms.id), "to": sms.to, "from": sms.sender, "body": sms.body},
            headers={"Idempotency-Key": str(sms.id)},
        )
        raise_for_verdict(response)
        return Accepted(provider_id_of(response, "id"), answer_text(response))

    async def close(self) -> None:
        await self.client.aclose()
