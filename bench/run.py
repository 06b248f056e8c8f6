"""CLI: ``python -m bench --n 20000 --runs 3 --only raw,celery,dramatiq``."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from bench.report import BASELINE, Contender, RunFn, RunOutcome, Summary, print_table, run_repeated


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
# TODO(lead): add the relay runtime here, e.g.
#     "runtime": Contender("relay runtime", lazy("bench.runtime_bench")),
# ========================================================================================
CONTENDERS: dict[str, Contender] = {
    "raw": Contender(BASELINE, lazy("bench.raw_aiopika")),
    "raw-quorum": Contender("raw aio-pika (quorum)", lazy("bench.raw_aiopika", "run_quorum")),
    "celery": Contender("celery", lazy("bench.celery_bench")),
    "dramatiq": Contender("dramatiq", lazy("bench.dramatiq_bench")),
}
DEFAULT_ONLY = "raw,celery,dramatiq"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="jobs per run (default 20000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (default 3)")
    parser.add_argument(
        "--only",
        default=DEFAULT_ONLY,
        help=f"comma-separated contenders, from: {', '.join(CONTENDERS)} (default {DEFAULT_ONLY})",
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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    summaries: list[Summary] = []
    for key in args.keys:
        contender = CONTENDERS[key]
        print(f"{contender.label}: {args.runs} x {args.n:,} jobs", flush=True)
        summaries.append(run_repeated(contender, args.n, args.runs))
    print()
    print_table(summaries, n=args.n)
    return 0
