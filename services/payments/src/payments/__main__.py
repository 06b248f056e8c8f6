"""`python -m payments`: the payments worker."""

from __future__ import annotations

import asyncio

from common.consumer import run_worker
from common.runtime import Runtime
from common.settings import RuntimeSettings

from .jobs import checker, router


async def main() -> None:
    runtime = await Runtime.start(RuntimeSettings(), "payments")
    try:
        await run_worker(runtime, router)
    finally:
        await checker().close()


if __name__ == "__main__":
    asyncio.run(main())
