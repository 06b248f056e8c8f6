"""`python -m sms`: the sms worker."""

from __future__ import annotations

import asyncio

from common.consumer import run_worker
from common.runtime import Runtime
from common.settings import RuntimeSettings

from .jobs import router


async def main() -> None:
    runtime = await Runtime.start(RuntimeSettings(), "sms")
    await run_worker(runtime, router)


if __name__ == "__main__":
    asyncio.run(main())
