"""`make report`: docs/report.md and its PNG plots (docs/figures/report-*.png).

    python -m bench.report                       # run every benchmark afresh, then draw
    python -m bench.report --quick               # the same at reduced sizes (marked so)
    python -m bench.report --only contenders,soak   # rerun these; the rest from saved results
    python -m bench.report --from-saved bench/results   # draw from saved results only

Fresh runs write their raw results into --results (bench/results by default); the report
is always drawn from that directory, so a figure whose benchmark was not rerun (or failed)
shows its saved results, with their own date and command.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.report import document, figures
from bench.report.sources import Record
from bench.report.steps import NAMES, run_steps
from bench.results import DEFAULT_DIR, REPO_ROOT, load, now


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from-saved", metavar="DIR", type=Path, help="draw from the results in DIR; run nothing"
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_DIR, help="where fresh runs write")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "docs", help="report.md and figures/ go here"
    )
    parser.add_argument(
        "--only", default=",".join(NAMES), help=f"steps to rerun, from {','.join(NAMES)}"
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes for the fresh runs")
    args = parser.parse_args(argv)
    args.steps = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := [name for name in args.steps if name not in NAMES]:
        parser.error(f"unknown step(s) {unknown}; known: {', '.join(NAMES)}")
    return args


def draw(records: dict[str, Record], out: Path) -> dict[str, Path]:
    """Every plot whose results exist, into out/figures/; by file name."""
    folder = out / "figures"
    drawn: dict[str, Path] = {}

    def keep(path: Path) -> None:
        drawn[path.name] = path

    if "contenders" in records:
        keep(figures.contenders(records["contenders"], folder / "report-contenders.png"))
    scales = [records[k] for k in ("campaign-scale-csv", "campaign-scale-json") if k in records]
    if scales:
        keep(figures.campaign_sizes(scales, folder / "report-campaign-size.png"))
    if "campaign-workers" in records:
        keep(
            figures.campaign_workers(
                records["campaign-workers"], folder / "report-campaign-workers.png"
            )
        )
    if "backlog-latency" in records:
        keep(figures.latency_cdf(records["backlog-latency"], folder / "report-latency-cdf.png"))
    if "cluster" in records:
        keep(figures.cluster(records["cluster"], folder / "report-cluster.png"))
    if "soak" in records:
        keep(figures.soak(records["soak"], folder / "report-soak.png"))
    return drawn


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    failed: list[str] = []
    if args.from_saved is None:
        failed = run_steps(args.steps, quick=args.quick, results=args.results)
        source = args.results
    else:
        source = args.from_saved
    if not source.is_dir():
        print(f"no results directory {source}", file=sys.stderr)
        return 2
    try:
        records = load(source)
    except ValueError as error:  # not JSON, or not a results file
        print(f"unreadable results in {source}: {error}", file=sys.stderr)
        return 2
    if not records:
        print(f"no results files in {source}", file=sys.stderr)
        return 2
    drawn = draw(records, args.out)
    command = "python -m bench.report " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = document.render(
        records, drawn, generated=now(), command=command.strip(), source=_shown(source)
    )
    report = args.out / "report.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text)
    print(f"report: {report} ({len(drawn)} figures in {args.out / 'figures'})")
    if failed:
        print(f"steps that did not exit 0: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
