"""`python -m sms`: the sms worker."""

from __future__ import annotations

import asyncio

from common.consumer import run_worker
from common.runtime import Runtime

from .jobs import router
from .sending import sending_for
from .settings import SmsSettings
from .topology import SMS_BULK, SMS_CAMPAIGN, SMS_SEND


async def main() -> None:
    settings = SmsSettings()
    runtime = await Runtime.start(settings, "sms")
    sending = sending_for(runtime)
    try:
        await run_worker(
            runtime,
            router,
            # One channel per queue, each with its own prefetch: a single send never waits
            # behind the campaign messages this worker already holds.
            prefetch={
                SMS_SEND.name: settings.sms_send_prefetch,
                SMS_BULK.name: settings.sms_bulk_prefetch,
                SMS_CAMPAIGN.name: settings.sms_campaign_prefetch,
            },
        )
    finally:
        await sending.provider.close()


if __name__ == "__main__":
    asyncio.run(main())
