"""`python -m common.scheduling`: the `scheduler` process (runner.py)."""

import asyncio

from .runner import run_scheduler

if __name__ == "__main__":
    asyncio.run(run_scheduler())
