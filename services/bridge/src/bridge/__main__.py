"""`python -m bridge`: the Laravel bridge (docs/laravel.md)."""

from __future__ import annotations

import asyncio
import sys

from pydantic import ValidationError

from .job_map import JobMapError
from .process import run_bridge
from .settings import BridgeSettings


def main() -> None:
    try:
        settings = BridgeSettings()
        asyncio.run(run_bridge(settings))
    except (ValidationError, JobMapError) as unusable:
        # A setting or the map file cannot be used: say which, without a traceback.
        print(f"bridge: {unusable}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
