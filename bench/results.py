"""Raw results on disk, for `python -m bench.report`: one JSON file per kind of figure.

Each file says where and how it was measured: the machine (cores, CPU model, RAM), the
date, the git commit, the exact command, the load average (the machine may be shared)
and the parameters that decide whether the run was full size. The benchmarks write into
`bench/results/` unless `BENCH_RESULTS_DIR` names another directory; the latest run of
a kind replaces the previous one.

    {"kind": "contenders", "schema": 1, "command": "python -m bench --n 20000 --runs 3",
     "started": "2026-12-01T09:00:00Z", "finished": "...", "git": {"commit": "...",
     "dirty": false}, "machine": {...}, "load_average": {"start": 0.4, "end": 1.2},
     "parameters": {"n": 20000, "runs": 3}, "data": {...}}
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / "bench" / "results"
SCHEMA = 1


def results_dir() -> Path:
    return Path(os.environ.get("BENCH_RESULTS_DIR") or DEFAULT_DIR)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine() -> dict[str, Any]:
    """What the figures depend on, read from Linux's /proc (None where unavailable)."""
    cpu_model = None
    ram_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model or platform.processor() or None,
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def module_command(module: str) -> str:
    """The command line that is running, as `python -m <module> <its arguments>`."""
    return " ".join(["python -m", module, *map(shlex.quote, sys.argv[1:])])


@dataclass
class Recording:
    """Started when a benchmark starts; `save` writes its results with what it knows."""

    command: str
    started: str = field(default_factory=now)
    load_start: float = field(default_factory=lambda: os.getloadavg()[0])

    def save(
        self,
        kind: str,
        parameters: dict[str, Any],
        data: dict[str, Any],
        directory: Path | None = None,
    ) -> Path:
        record = {
            "kind": kind,
            "schema": SCHEMA,
            "command": self.command,
            "started": self.started,
            "finished": now(),
            "git": git_state(),
            "machine": machine(),
            "load_average": {"start": self.load_start, "end": os.getloadavg()[0]},
            "parameters": parameters,
            "data": data,
        }
        directory = directory or results_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{kind}.json"
        # Written whole then renamed: a reader never sees half a file.
        partial = path.with_suffix(f".{os.getpid()}.{time.monotonic_ns()}.tmp")
        partial.write_text(json.dumps(record, indent=1) + "\n")
        partial.replace(path)
        print(f"results: {path}", file=sys.stderr, flush=True)
        return path


def load(directory: Path) -> dict[str, dict[str, Any]]:
    """Every results file in `directory`, by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or "kind" not in record or "data" not in record:
            raise ValueError(f"{path}: not a results file (no kind / data)")
        found[record["kind"]] = record
    return found
