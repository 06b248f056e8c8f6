"""The benchmarks `make report` runs afresh, each writing its results file (bench/results.py).

Each step is a separate process, as a person would run it, with BENCH_RESULTS_DIR pointing
at the results directory. `--quick` runs reduced sizes (a few minutes in all), which the
report then marks as reduced.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.results import REPO_ROOT

CONTENDERS = "raw,runtime,faststream,taskiq,dramatiq,celery"
SIZES = "10000,25000,50000,100000"


@dataclass(frozen=True)
class Step:
    name: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


def _python(*args: str) -> tuple[str, ...]:
    return ("python", *args)


STEPS = (
    Step(
        "contenders",
        _python("-m", "bench", "--n", "20000", "--runs", "3", "--only", CONTENDERS),
        _python("-m", "bench", "--n", "2000", "--runs", "1", "--only", CONTENDERS),
    ),
    *(
        Step(
            f"scale-{body}",
            _python("-m", "bench.sms_bench", "--only", "scale", "--sizes", SIZES, "--body", body),
            _python(
                "-m",
                "bench.sms_bench",
                "--only",
                "scale",
                "--sizes",
                "2000,5000,10000",
                "--body",
                body,
            ),
        )
        for body in ("csv", "json")
    ),
    Step(
        "workers",
        _python(
            "-m",
            "bench.sms_bench",
            "--only",
            "throughput",
            "--workers",
            "1,2,4",
            "--messages",
            "20000",
        ),
        _python(
            "-m",
            "bench.sms_bench",
            "--only",
            "throughput",
            "--workers",
            "1,2,4",
            "--messages",
            "5000",
        ),
    ),
    Step(
        "latency",
        _python(
            "-m", "bench.sms_bench", "--only", "latency", "--messages", "20000", "--singles", "50"
        ),
        _python(
            "-m", "bench.sms_bench", "--only", "latency", "--messages", "10000", "--singles", "20"
        ),
    ),
    # The cluster suite's two throughput tests (one node, then three), on containers.
    Step(
        "cluster",
        ("bash", "infra/test-cluster.sh", "-k", "throughput"),
        ("bash", "infra/test-cluster.sh", "-k", "throughput"),
    ),
    Step(
        "soak",
        _python("-m", "bench.soak", "--minutes", "20"),
        _python("-m", "bench.soak", "--minutes", "2", "--sample", "10"),
    ),
)
NAMES = tuple(step.name for step in STEPS)


def run_steps(names: list[str], *, quick: bool, results: Path) -> list[str]:
    """Run the named steps in order; returns "<name> (exit <status>)" for each that did
    not exit 0. Such a step may still have saved results (a benchmark with one failed
    contender, a soak judged inconclusive), or left the previous ones in place."""
    failed = []
    for step in STEPS:
        if step.name not in names:
            continue
        argv = list(step.quick if quick else step.full)
        shown = " ".join(argv)
        if argv[0] == "python":
            argv[0] = sys.executable
        env = {**os.environ, "BENCH_RESULTS_DIR": str(results), "BENCH_COMMAND": shown}
        print(f"\n=== report: {step.name}: {shown}", flush=True)
        started = time.monotonic()
        status = subprocess.run(argv, cwd=REPO_ROOT, env=env, check=False).returncode
        minutes = (time.monotonic() - started) / 60
        print(f"=== report: {step.name} exited {status} after {minutes:.1f} min", flush=True)
        if status != 0:
            failed.append(f"{step.name} (exit {status})")
    return failed
