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
    except ValidationError as invalid:
        # Which setting and why, without its value: LARAVEL_APP_KEY is a secret.
        for error in invalid.errors(include_input=False, include_url=False):
            name = "_".join(str(part) for part in error["loc"]).upper()
            print(f"bridge: {name}: {error['msg']}", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(run_bridge(settings))
    except JobMapError as unusable:
        print(f"bridge: {unusable}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
