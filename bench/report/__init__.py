"""Result model, the repeat-N-times helper and the comparison table of `python -m bench`.

The report drawn from saved results (`python -m bench.report`, `make report`) lives in this
package's submodules: sources, figures, document, steps, __main__.
"""

from __future__ import annotations

import asyncio
import inspect
import statistics
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

BASELINE = "raw aio-pika"


class Sample(NamedTuple):
    """One handled job: its index, when it was published, when its handler finished."""

    n: int
    sent_at: float
    handled_at: float


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run of one contender.

    throughput = n / (last handled_at - first sent_at); latency = handled_at - sent_at.
    """

    contender: str
    n: int
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    duplicates: int = 0
    config: str = ""  # optional one-line description of what was measured

    @property
    def throughput(self) -> float:
        return self.n / self.elapsed_s

    @classmethod
    def from_samples(
        cls, contender: str, n: int, samples: Sequence[Sample], *, config: str = ""
    ) -> RunResult:
        """Build a result; fails unless every job 0..n-1 was handled at least once."""
        seen = {s.n for s in samples}
        if len(seen) != n or min(seen) != 0 or max(seen) != n - 1:
            raise RuntimeError(f"{contender}: {len(seen)} distinct jobs handled, expected {n}")
        start = min(s.sent_at for s in samples)
        end = max(s.handled_at for s in samples)
        latencies = [s.handled_at - s.sent_at for s in samples]
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        return cls(
            contender=contender,
            n=n,
            elapsed_s=end - start,
            p50_ms=q[49] * 1000,
            p99_ms=q[98] * 1000,
            duplicates=len(samples) - n,
            config=config,
        )


@dataclass(frozen=True, slots=True)
class Summary:
    """All runs of one contender."""

    contender: str
    runs: tuple[RunResult, ...]
    config: str = ""

    def _by_throughput(self) -> list[RunResult]:
        return sorted(self.runs, key=lambda r: r.throughput)

    @property
    def min(self) -> float:
        return self._by_throughput()[0].throughput

    @property
    def max(self) -> float:
        return self._by_throughput()[-1].throughput

    @property
    def median_run(self) -> RunResult:
        """The run with the median throughput (the lower middle one for an even count)."""
        ordered = self._by_throughput()
        return ordered[(len(ordered) - 1) // 2]

    @property
    def median(self) -> float:
        return self.median_run.throughput


RunOutcome = RunResult | Awaitable[RunResult]
RunFn = Callable[[int], RunOutcome]
"""A contender: given n, run the whole workload once and return its result.

May be a plain function or a coroutine function; the latter gets a fresh event loop per run.
"""


@dataclass(frozen=True, slots=True)
class Contender:
    label: str  # shown in the table; the baseline is BASELINE
    run: RunFn
    config: str = ""  # shown in the table; if empty, the runs' RunResult.config is used


def run_once(contender: Contender, n: int) -> RunResult:
    outcome = contender.run(n)
    if inspect.isawaitable(outcome):
        return asyncio.run(_await(outcome))
    return outcome


async def _await(aw: Awaitable[RunResult]) -> RunResult:
    return await aw


def run_repeated(
    contender: Contender,
    n: int,
    runs: int = 3,
    *,
    retries: int = 1,
    before_each: Callable[[], None] | None = None,
) -> Summary:
    """Run `contender` `runs` times back to back, printing one line per run.

    A run that raises (e.g. the shared broker closed our connection) is reported and
    replaced by a fresh one, at most `retries` times in total. `before_each` (untimed) runs
    before every attempt, e.g. to wait until the broker is reachable.
    """
    results: list[RunResult] = []
    failures = 0
    while len(results) < runs:
        i = len(results) + 1
        if before_each is not None:
            before_each()
        try:
            r = run_once(contender, n)
        except Exception as exc:
            failures += 1
            print(f"  {contender.label:<16} run {i}/{runs} FAILED: {exc!r}", flush=True)
            if failures > retries:
                raise
            continue
        results.append(r)
        dup = f"  ({r.duplicates} redelivered)" if r.duplicates else ""
        print(
            f"  {contender.label:<16} run {i}/{runs}: {r.throughput:9.0f} msg/s  "
            f"{r.elapsed_s:6.2f}s  p50 {r.p50_ms:8.1f} ms  p99 {r.p99_ms:8.1f} ms{dup}",
            flush=True,
        )
    return Summary(contender.label, tuple(results), contender.config or results[0].config)


def _rows(summaries: Sequence[Summary]) -> tuple[list[str], list[list[str]]]:
    base = next((s for s in summaries if s.contender == BASELINE), None)
    header = [
        "contender",
        "runs",
        "min msg/s",
        "median msg/s",
        "max msg/s",
        "ratio",
        "p50 ms",
        "p99 ms",
        "config",
    ]
    rows = []
    for s in summaries:
        ratio = f"{s.median / base.median:.2f}x" if base else "-"
        m = s.median_run
        rows.append(
            [
                s.contender,
                str(len(s.runs)),
                f"{s.min:,.0f}",
                f"{s.median:,.0f}",
                f"{s.max:,.0f}",
                ratio,
                f"{m.p50_ms:,.1f}",
                f"{m.p99_ms:,.1f}",
                s.config,
            ]
        )
    return header, rows


def print_table(summaries: Sequence[Summary], *, n: int, title: str | None = None) -> None:
    """Print the comparison; `ratio` = median throughput / raw aio-pika's median throughput.

    p50/p99 are those of each contender's median-throughput run.
    """
    header, rows = _rows(summaries)
    title = title or f"N={n:,} persistent jobs, publisher confirms, manual ack"
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain fallback
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        print(title)
        for r in [header, ["-" * w for w in widths], *rows]:
            print(
                "  ".join(
                    c.rjust(w) if 1 <= i <= 7 else c.ljust(w)
                    for i, (c, w) in enumerate(zip(r, widths, strict=True))
                )
            )
        return
    table = Table(title=title)
    for i, h in enumerate(header):
        table.add_column(h, justify="right" if 1 <= i <= 7 else "left")
    for r in rows:
        table.add_row(*r)
    Console(file=sys.stdout, width=max(160, len(title))).print(table)
