"""The previous release, checked out beside this one and installed in its own venv.

Collected only when RELAY_TEST_UPGRADE=1 (what `make test-upgrade` sets, in .ci/run):
installing the previous release costs a minute on a cold uv cache, which `make test`
keeps out of its budget.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import Stack
from tests.support.stack import ROOT

RELEASES = ROOT / ".releases"
ENABLED = os.environ.get("RELAY_TEST_UPGRADE") == "1"
collect_ignore_glob = [] if ENABLED else ["test_*.py"]


@dataclass(frozen=True)
class Release:
    version: str
    commit: str
    root: Path


def previous_release() -> tuple[str, str]:
    """(version, commit) of the last landed release (infra/releases/previous)."""
    lines = (ROOT / "infra" / "releases" / "previous").read_text().splitlines()
    version, commit = next(line for line in lines if line and not line.startswith("#")).split()
    return version, commit


def _run(*command: str, cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def release() -> Release:
    """The previous release's checkout (a git worktree under .releases/) with its own venv,
    made once and reused while its commit stays the same."""
    version, commit = previous_release()
    tree = RELEASES / version
    head = tree / ".git"
    if head.exists():
        current = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True, text=True
        ).stdout.strip()
        if current != commit:
            _run("git", "worktree", "remove", "--force", str(tree), cwd=ROOT)
    if not head.exists():
        RELEASES.mkdir(exist_ok=True)
        _run("git", "worktree", "prune", cwd=ROOT)
        _run("git", "worktree", "add", "--force", "--detach", str(tree), commit, cwd=ROOT)
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    done = subprocess.run(
        ["uv", "sync", "--frozen", "--no-dev", "--compile-bytecode", "--quiet"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"installing release {version} failed:\n{done.stderr}")
    return Release(version, commit, tree)


@pytest.fixture
def old(env: dict[str, Any], release: Release, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The previous release's processes on this test's broker, database and Redis."""
    running = Stack(env, name=f"{request.node.name}-{release.version}", root=release.root)
    try:
        yield running
    finally:
        running.stop()
