"""`relay` itself, without the services: its version, its verbs, and that its start-up
stays light (the runtime, httpx, asyncpg and rich's Live load inside the commands)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from common.web import SCOPES
from gateway.auth import keys as key_store
from gateway.cli import keys as keys_cli

RELAY = str(Path(sys.executable).parent / "relay")
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("httpx", "asyncpg", "aio_pika", "redis", "fastapi", "rich.live", "common.runtime")


def relay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RELAY, *args], capture_output=True, text=True, timeout=60, env={"COLUMNS": "200"}
    )


def test_relay_version_prints_the_installed_release() -> None:
    shown = relay("--version")
    assert shown.returncode == 0, shown.stderr
    release = (ROOT / "VERSION").read_text().strip()
    assert shown.stdout.strip() == version("relay-gateway") == release


def test_relay_help_lists_every_verb_of_the_contract() -> None:
    verbs = {
        (): ["failed", "queues", "top", "queue", "terminate", "keys", "audit", "prune"],
        ("failed",): ["list", "retry", "forget", "flush"],
        ("queue",): ["pause", "continue", "clear"],
        ("keys",): ["create", "list", "revoke", "rotate"],
    }
    for group, names in verbs.items():
        shown = relay(*group, "--help")
        assert shown.returncode == 0, shown.stderr
        listed = {line.strip("│ ").split(" ")[0] for line in shown.stdout.splitlines()}
        assert set(names) <= listed, (group, shown.stdout)


def test_importing_the_cli_loads_nothing_heavy() -> None:
    probe = f"import sys, gateway.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert loaded.stdout.strip() == ""


def test_the_options_the_cli_spells_out_match_their_owners() -> None:
    assert keys_cli.SCOPES == SCOPES
    hours = key_store.DEFAULT_OVERLAP // 3600
    assert f"{hours}h" == keys_cli.DEFAULT_OVERLAP
