"""The report's PNG plots, drawn from saved results with matplotlib's Agg backend.

Every plot carries, under its axes, the caption of each results file it draws from
(machine, date, commit, load, command, and "REDUCED RUN" when it was not full size).
matplotlib is imported when a plot is drawn, not with this module.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report.sources import Record, caption, reduced

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

RUNTIME = "relay runtime"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(figure: Figure, records: Sequence[Record], path: Path) -> Path:
    """Put the sources' captions under the axes and write the PNG."""
    lines = "\n".join(caption(record) for record in records)
    height = 0.03 + 0.022 * lines.count("\n")
    figure.text(
        0.01, 0.01, lines, fontsize=7, family="monospace", va="bottom", ha="left", wrap=True
    )
    if any(reduced(record) for record in records):
        figure.text(0.99, 0.99, "REDUCED RUN", color="firebrick", fontsize=9, ha="right", va="top")
    figure.tight_layout(rect=(0, height + 0.01, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)
    return path


def runs_of(contender: dict[str, Any]) -> list[float]:
    return sorted(run["msgs_per_s"] for run in contender["runs"])


def median_run(contender: dict[str, Any]) -> dict[str, Any]:
    """The run with the median throughput (the lower middle one for an even count), as
    the comparison table does (bench/report/__init__.py)."""
    ordered = sorted(contender["runs"], key=lambda run: run["msgs_per_s"])
    return dict(ordered[(len(ordered) - 1) // 2])


def contenders(record: Record, path: Path) -> Path:
    plt = _pyplot()
    entries = record["data"]["contenders"]
    baseline = next((c for c in entries if c["label"] == record["data"]["baseline"]), None)
    base = median_run(baseline)["msgs_per_s"] if baseline else None
    labels = [c["label"] for c in entries]
    medians = [median_run(c)["msgs_per_s"] for c in entries]
    lows = [m - runs_of(c)[0] for m, c in zip(medians, entries, strict=True)]
    highs = [runs_of(c)[-1] - m for m, c in zip(medians, entries, strict=True)]
    colors = ["tab:orange" if label.startswith(RUNTIME) else "tab:blue" for label in labels]
    figure, axis = plt.subplots(figsize=(10, 5.8))
    bars = axis.bar(labels, medians, color=colors, yerr=[lows, highs], capsize=6)
    for bar, median in zip(bars, medians, strict=True):
        text = f"{median:,.0f}" + (f"\n{median / base:.2f}x" if base else "")
        axis.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, median),
            xytext=(14, 3),
            textcoords="offset points",
            fontsize=8,
        )
    runs = record["parameters"].get("runs")
    n = record["parameters"].get("n", 0)
    axis.set_title(
        f"{n:,} persistent jobs, publisher confirms, ack after a no-op handler\n"
        f"median msg/s of {runs} run(s), whiskers min-max; ratio to raw aio-pika"
    )
    axis.set_ylabel("messages / s")
    axis.grid(axis="y", alpha=0.3)
    axis.tick_params(axis="x", labelrotation=15)
    return _finish(figure, [record], path)


def campaign_sizes(records: Sequence[Record], path: Path) -> Path:
    plt = _pyplot()
    figure, (rate_axis, cpu_axis) = plt.subplots(1, 2, figsize=(11, 5.2))
    for record in records:
        data = record["data"]
        rows = data["campaigns"]
        sizes = [row["recipients"] for row in rows]
        label = f"{data['body'].upper()} body"
        color = "tab:orange" if data["body"] == "json" else "tab:blue"
        rate_axis.plot(
            sizes, [row["msgs_per_s"] for row in rows], marker="o", color=color, label=label
        )
        cpu_axis.plot(
            sizes,
            [row["worker_cpu_us_per_msg"] for row in rows],
            marker="o",
            color=color,
            label=f"worker, {label}",
        )
        cpu_axis.plot(
            sizes,
            [row["postgres_cpu_us_per_msg"] for row in rows],
            marker="s",
            linestyle="--",
            color=color,
            label=f"Postgres, {label}",
        )
    rate_axis.set_title("campaign msg/s, from the POST until settled\n(1 sms worker)")
    rate_axis.set_xlabel("recipients")
    rate_axis.set_ylabel("messages / s")
    cpu_axis.set_title("CPU per message")
    cpu_axis.set_xlabel("recipients")
    cpu_axis.set_ylabel("µs of CPU / message")
    for axis in (rate_axis, cpu_axis):
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    return _finish(figure, records, path)


def campaign_workers(record: Record, path: Path) -> Path:
    plt = _pyplot()
    runs = record["data"]["runs"]
    workers = [run["workers"] for run in runs]
    figure, axis = plt.subplots(figsize=(8, 5.2))
    axis.plot(workers, [r["from_post_msgs_per_s"] for r in runs], marker="o", label="from the POST")
    axis.plot(
        workers,
        [r["first_to_last_msgs_per_s"] for r in runs],
        marker="s",
        linestyle="--",
        label="first → last delivery",
    )
    axis.set_xticks(workers)
    axis.set_ylim(bottom=0)
    messages = record["parameters"].get("messages", 0)
    axis.set_title(f"campaign of {messages:,} messages against sms workers")
    axis.set_xlabel("sms worker processes")
    axis.set_ylabel("messages / s")
    axis.grid(alpha=0.3)
    axis.legend()
    return _finish(figure, [record], path)


def latency_cdf(record: Record, path: Path) -> Path:
    plt = _pyplot()
    data = record["data"]
    latencies = sorted(value * 1000 for value in data["latencies_s"])
    fractions = [(i + 1) / len(latencies) for i in range(len(latencies))]
    figure, axis = plt.subplots(figsize=(8, 5.2))
    axis.step(latencies, fractions, where="post")
    p50 = statistics.median(latencies)
    axis.axvline(p50, color="gray", linestyle=":", label=f"p50 {p50:,.0f} ms")
    axis.axvline(
        data["p99_ms"], color="firebrick", linestyle=":", label=f"p99 {data['p99_ms']:,.0f} ms"
    )
    axis.set_title(
        f"single send, POST → provider, behind a {data['campaign_messages']:,}-message campaign\n"
        f"{len(latencies)} sends; campaign messages still queued at the end: "
        f"{data['campaign_left_at_end']:,}"
    )
    axis.set_xlabel("latency (ms)")
    axis.set_ylabel("fraction of sends")
    axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    return _finish(figure, [record], path)


def cluster(record: Record, path: Path) -> Path:
    plt = _pyplot()
    data = record["data"]
    groups = ("campaign_msgs_per_s", "campaign_steady_msgs_per_s")
    names = ("from the 202 to the last message", "steady rate (10th-90th percentile)")
    figure, axis = plt.subplots(figsize=(8, 5.2))
    width = 0.38
    for offset, (label, color) in enumerate(
        (("one_node", "tab:blue"), ("three_nodes", "tab:orange"))
    ):
        values = [data[label][group] for group in groups]
        xs = [i + (offset - 0.5) * width for i in range(len(groups))]
        bars = axis.bar(xs, values, width, color=color, label=label.replace("_", " "))
        axis.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
    ratio = data["three_nodes"]["campaign_msgs_per_s"] / data["one_node"]["campaign_msgs_per_s"]
    axis.set_xticks(range(len(groups)), names)
    axis.set_title(
        f"{record['parameters'].get('campaign', 10_000):,}-recipient campaign, "
        f"compose stack: three nodes = {ratio:.0%} of one"
    )
    axis.set_ylabel("messages / s")
    axis.grid(axis="y", alpha=0.3)
    axis.legend()
    return _finish(figure, [record], path)


def soak(record: Record, path: Path) -> Path:
    plt = _pyplot()
    samples = record["data"]["samples"]
    minutes = [s["at"] / 60 for s in samples]
    figure, (rss_axis, rate_axis) = plt.subplots(2, 1, figsize=(10, 8), sharex=True)
    for process in samples[0]["rss_mb"]:
        rss_axis.plot(minutes, [s["rss_mb"][process] for s in samples], label=process)
    rss_axis.set_title("resident memory per process")
    rss_axis.set_ylabel("RSS (MB)")
    rss_axis.set_ylim(bottom=0)
    for worker in samples[0].get("done", {}):
        _rate_line(rate_axis, samples, worker)
    load_end = record["data"]["load_end_s"] / 60
    rate_axis.set_ylim(bottom=0)
    for axis, corner in ((rss_axis, "lower right"), (rate_axis, "lower right")):
        axis.axvline(load_end, color="gray", linestyle=":")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small", loc=corner)
    parameters = record["parameters"]
    rate_axis.set_title(
        f"jobs done per second per worker (load: {parameters.get('sms', 0):g} sms/s, "
        f"{parameters.get('webhooks', 0):g} webhooks/s, "
        f"{parameters.get('notifications', 0):g} notifications/s; dotted: load ends)"
    )
    rate_axis.set_ylabel("jobs / s")
    rate_axis.set_xlabel("minutes since the load started")
    return _finish(figure, [record], path)


def _rate_line(axis: Axes, samples: list[dict[str, Any]], worker: str) -> None:
    times, rates = [], []
    for before, after in itertools.pairwise(samples):
        seconds = after["at"] - before["at"]
        if seconds > 0:
            times.append(after["at"] / 60)
            rates.append((after["done"][worker] - before["done"][worker]) / seconds)
    axis.plot(times, rates, marker=".", label=worker)
