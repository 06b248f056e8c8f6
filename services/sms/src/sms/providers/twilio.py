"""Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded.

https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
The answer's `sid` is the provider id; the base URL is configurable (tests, proxies).
"""

from __future__ import annotations

import aiohttp

from .base import Accepted, OutgoingSms
from .http import Session, post


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
        basic = aiohttp.encode_basic_auth(account_sid, auth_token)
        self.session = Session(timeout, max_connections, {"Authorization": basic})

    async def send(self, sms: OutgoingSms) -> Accepted:
        form = {"To": sms.to, "From": sms.sender, "Body": sms.body}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        answer = await post(self.session, self.url, data=form)
        return Accepted(answer.field("sid"), answer.describe())

    async def close(self) -> None:
        await self.session.close()
