"""The default provider: writes the message to the log and accepts it."""

from __future__ import annotations

import logging

from .base import Accepted, OutgoingSms

log = logging.getLogger("relay.sms.provider.log")


class LogProvider:
    name = "log"

    async def send(self, sms: OutgoingSms) -> Accepted:
        log.info(
            "sms to %s",
            sms.to,
            extra={"sms_id": str(sms.id), "to": sms.to, "from": sms.sender, "body": sms.body},
        )
        return Accepted(provider_id=f"log-{sms.id}", answer="logged")

    async def close(self) -> None:
        return None
