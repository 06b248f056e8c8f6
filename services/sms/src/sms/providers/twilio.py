"""Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded.

https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
The answer's `sid` is the provider id; the base URL is configurable (tests, proxies).
"""

from __future__ import annotations

import httpx

from .base import Accepted, OutgoingSms
from .http import answer_text, post, provider_id_of, raise_for_verdict


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        timeout: float,
        max_connections: int,
        status_callback: str = "",
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.status_callback = status_callback
        self.client = httpx.AsyncClient(
            timeout=timeout,
            auth=(account_sid, auth_token),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def send(self, sms: OutgoingSms) -> Accepted:
        form = {"To": sms.to, "From": sms.sender, "Body": sms.body}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        response = await post(self.client, self.url, data=form)
        raise_for_verdict(response)
        return Accepted(provider_id_of(response, "sid"), answer_text(response))

    async def close(self) -> None:
        await self.client.aclose()
