"""`python -m notifications`: the notifications worker."""

from __future__ import annotations

import asyncio

from common.consumer import run_worker
from common.runtime import Runtime

from .jobs import router
from .settings import settings


async def main() -> None:
    runtime = await Runtime.start(settings(), "notifications")
    await run_worker(runtime, router)


if __name__ == "__main__":
    asyncio.run(main())
