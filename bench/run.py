"""CLI: ``python -m bench --n 20000 --runs 3 --only raw,celery,dramatiq``."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from bench._infra import wait_for_broker
from bench.report import BASELINE, Contender, RunFn, RunOutcome, Summary, print_table, run_repeated
from bench.results import Recording, module_command


def lazy(module: str, attr: str = "run") -> RunFn:
    """A RunFn that imports `module` only when the contender actually runs.

    Keeps `--only raw` from importing Celery/Dramatiq (and their module-level setup).
    """

    def run(n: int) -> RunOutcome:
        fn: RunFn = getattr(importlib.import_module(module), attr)
        return fn(n)

    run.__qualname__ = f"lazy({module}:{attr})"
    return run


# ====================================================================== CONTENDER REGISTRY
# key (used by --only) -> Contender(label, run, config).
#
# `config` may be left empty: the table then shows RunResult.config of the runs.
# `run` is any callable `(n: int) -> RunResult` or `(n: int) -> Awaitable[RunResult]`
# (an `async def run(n)` gets a fresh event loop per run). It must run the whole workload
# once — fresh durable queue, consumer attached BEFORE the first publish, publish n
# persistent JSON jobs {"n": i, "sent_at": time.time()} with publisher confirms, no-op
# handler + manual ack, wait until all n are handled, delete its queues / stop its
# processes even on error — and return `RunResult.from_samples(label, n, samples, config=...)`
# where samples are `Sample(n=i, sent_at=job["sent_at"], handled_at=time.time())`, the
# handled time taken after the handler returned and before the ack.
#
# ========================================================================================
CONTENDERS: dict[str, Contender] = {
    "raw": Contender(BASELINE, lazy("bench.raw_aiopika")),
    "raw-quorum": Contender("raw aio-pika (quorum)", lazy("bench.raw_aiopika", "run_quorum")),
    "celery": Contender("celery", lazy("bench.celery_bench")),
    "dramatiq": Contender("dramatiq", lazy("bench.dramatiq_bench")),
    "faststream": Contender("faststream", lazy("bench.faststream_bench")),
    "taskiq": Contender("taskiq", lazy("bench.taskiq_bench")),
    "runtime": Contender("relay runtime", lazy("bench.runtime_bench")),
    "runtime-quorum": Contender(
        "relay runtime (quorum)", lazy("bench.runtime_bench", "run_quorum")
    ),
    "runtime-idem": Contender(
        "relay runtime + idempotency", lazy("bench.runtime_bench", "run_idempotent")
    ),
}
DEFAULT_ONLY = "raw,runtime,faststream,taskiq,dramatiq,celery"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="jobs per run (default 20000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (default 3)")
    parser.add_argument(
        "--only",
        default=DEFAULT_ONLY,
        help=f"comma-separated contenders, from: {', '.join(CONTENDERS)} (default {DEFAULT_ONLY})",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=1,
        help="failed runs (e.g. broker connection closed by someone else) to redo (default 1)",
    )
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contender(s) {unknown}; known: {list(CONTENDERS)}")
    if args.n < 100 or args.runs < 1:
        parser.error("--n must be >= 100 and --runs >= 1")
    args.keys = keys
    return args


def _sigterm_as_sigint(signum: int, frame: FrameType | None) -> None:
    # Re-raised as SIGINT so that whichever SIGINT handler is active applies: Python's
    # (KeyboardInterrupt) in sync contenders, asyncio.run's (cancel the main task, so its
    # `finally` blocks still run) in async ones.
    signal.raise_signal(signal.SIGINT)


def save_results(
    recording: Recording,
    args: argparse.Namespace,
    summaries: list[tuple[str, Summary]],
    failed: list[str],
) -> None:
    """Every run of every contender, for `python -m bench.report`."""
    contenders = [
        {
            "key": key,
            "label": summary.contender,
            "config": summary.config,
            "runs": [
                {
                    "msgs_per_s": run.throughput,
                    "elapsed_s": run.elapsed_s,
                    "p50_ms": run.p50_ms,
                    "p99_ms": run.p99_ms,
                    "redelivered": run.duplicates,
                }
                for run in summary.runs
            ],
        }
        for key, summary in summaries
    ]
    recording.save(
        "contenders",
        {"n": args.n, "runs": args.runs, "only": args.keys},
        {"baseline": BASELINE, "contenders": contenders, "failed": failed},
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    recording = Recording(module_command("bench"))
    # SIGTERM/SIGINT unwind through the contenders' `finally`: workers stopped, queues deleted.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm_as_sigint)
    summaries: list[tuple[str, Summary]] = []
    failed: list[str] = []
    try:
        for key in args.keys:
            contender = CONTENDERS[key]
            print(f"{contender.label}: {args.runs} x {args.n:,} jobs", flush=True)
            try:
                summary = run_repeated(
                    contender,
                    args.n,
                    args.runs,
                    retries=args.retries,
                    before_each=wait_for_broker,
                )
                summaries.append((key, summary))
            except Exception as exc:  # one broken contender must not hide the others
                print(f"{contender.label}: gave up after {exc!r}", file=sys.stderr, flush=True)
                failed.append(contender.label)
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    print()
    if summaries:
        print_table([summary for _, summary in summaries], n=args.n)
        save_results(recording, args, summaries, failed)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
