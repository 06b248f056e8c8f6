"""`python -m tournaments.scheduler`: publishes periodic jobs, once per slot across replicas."""

from __future__ import annotations

import asyncio
import signal

from common.runtime import Runtime
from common.settings import RuntimeSettings


async def main() -> None:
    runtime = await Runtime.start(RuntimeSettings(), "scheduler")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runtime.close()


if __name__ == "__main__":
    asyncio.run(main())
