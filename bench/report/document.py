"""docs/report.md: where each figure comes from, the plots, and their numbers as tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.report.figures import median_run, runs_of
from bench.report.sources import (
    BY_KIND,
    SOURCES,
    Record,
    busy,
    commit_line,
    load_line,
    machine_line,
    reduced,
)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---" if i == 0 else "---:" for i in range(len(header))]
    return [f"| {' | '.join(r)} |" for r in (header, align, *rows)]


def sources_table(records: dict[str, Record]) -> list[str]:
    rows = []
    for source in SOURCES:
        record = records.get(source.kind)
        if record is None:
            rows.append([source.what, "no saved results", "", "", "", f"`{source.produced_by}`"])
            continue
        why = reduced(record)
        rows.append(
            [
                source.what,
                str(record.get("started", "?")),
                machine_line(record),
                commit_line(record),
                load_line(record),
                f"`{record.get('command', '?')}`" + (f" — **reduced run**: {why}" if why else ""),
            ]
        )
    header = ["figure", "measured (UTC)", "machine", "commit", "load average", "command"]
    table = _table(header, rows)
    table[1] = "| --- | --- | --- | --- | --- | --- |"
    return table


def contenders_numbers(record: Record) -> list[str]:
    entries = record["data"]["contenders"]
    baseline = next((c for c in entries if c["label"] == record["data"]["baseline"]), None)
    base = median_run(baseline)["msgs_per_s"] if baseline else None
    rows = []
    for contender in entries:
        runs, middle = runs_of(contender), median_run(contender)
        ratio = f"{middle['msgs_per_s'] / base:.2f}x" if base else "-"
        rows.append(
            [
                contender["label"],
                str(len(runs)),
                f"{runs[0]:,.0f}",
                f"{middle['msgs_per_s']:,.0f}",
                f"{runs[-1]:,.0f}",
                ratio,
                f"{middle['p50_ms']:,.1f}",
                f"{middle['p99_ms']:,.1f}",
            ]
        )
    header = [
        "contender",
        "runs",
        "min msg/s",
        "median msg/s",
        "max msg/s",
        "ratio",
        "p50 ms",
        "p99 ms",
    ]
    table = _table(header, rows)
    configs = [f"- {c['label']}: {c['config']}" for c in entries if c.get("config")]
    failed = record["data"].get("failed") or []
    return [*table, "", *configs, *([f"- failed: {', '.join(failed)}"] if failed else [])]


def scale_numbers(record: Record) -> list[str]:
    data = record["data"]
    rows = [
        [
            f"{row['recipients']:,}",
            f"{row['accepted_s']:.1f} s",
            f"{row['settled_s']:.1f} s",
            f"{row['msgs_per_s']:,.0f}",
            f"{row['worker_cpu_us_per_msg']:.0f} µs",
            f"{row['postgres_cpu_us_per_msg']:.0f} µs",
            f"+{row['gateway_rss_after_mb'] - row['gateway_rss_before_mb']:.0f} MB",
        ]
        for row in data["campaigns"]
    ]
    header = [
        "recipients",
        "202 after",
        "settled after",
        "msg/s",
        "worker CPU/msg",
        "Postgres CPU/msg",
        "gateway RSS",
    ]
    ceiling = f"fake provider ceiling {data['provider_ceiling_msgs_per_s']:,.0f} msg/s"
    return [
        f"{data['body'].upper()} body, SMS_BULK_CHUNK {data['chunk']}, {ceiling}:",
        "",
        *_table(header, rows),
    ]


def workers_numbers(record: Record) -> list[str]:
    rows = [
        [
            str(r["workers"]),
            f"{r['from_post_msgs_per_s']:,.0f}",
            f"{r['first_to_last_msgs_per_s']:,.0f}",
            f"{r['post_seconds']:.1f} s",
            str(r["duplicates"]),
            f"{r['sent']:,} / {r['failed']:,}",
        ]
        for r in record["data"]["runs"]
    ]
    header = [
        "sms workers",
        "msg/s from the POST",
        "msg/s first → last",
        "POST took",
        "duplicates",
        "sent / failed",
    ]
    return _table(header, rows)


def latency_numbers(record: Record) -> list[str]:
    data = record["data"]
    latencies = sorted(data["latencies_s"])
    return [
        f"{len(latencies)} sends behind a {data['campaign_messages']:,}-message campaign: "
        f"p50 {data['p50_ms']:,.0f} ms, p99 {data['p99_ms']:,.0f} ms, "
        f"max {latencies[-1] * 1000:,.0f} ms; campaign messages still queued at the end: "
        f"{data['campaign_left_at_end']:,}."
    ]


def cluster_numbers(record: Record) -> list[str]:
    data = record["data"]
    rows = [
        [
            label.replace("_", " "),
            f"{data[label]['campaign_10k_seconds']:.1f} s",
            f"{data[label]['campaign_msgs_per_s']:,.0f}",
            f"{data[label]['campaign_steady_msgs_per_s']:,.0f}",
        ]
        for label in ("one_node", "three_nodes")
    ]
    ratio = data["three_nodes"]["campaign_msgs_per_s"] / data["one_node"]["campaign_msgs_per_s"]
    header = ["RabbitMQ", "202 → last message", "msg/s", "steady msg/s"]
    return [*_table(header, rows), "", f"Three nodes carry {ratio:.0%} of one node's rate."]


def soak_numbers(record: Record) -> list[str]:
    data, samples = record["data"], record["data"]["samples"]
    last, seconds = samples[-1], data["load_end_s"]
    rss = ", ".join(
        f"{name} {min(s['rss_mb'][name] for s in samples):.0f}-{max(s['rss_mb'][name] for s in samples):.0f} MB"
        for name in last["rss_mb"]
    )
    done = ", ".join(f"{worker} {count:,}" for worker, count in last.get("done", {}).items())
    return [
        f"{len(samples)} samples over {seconds / 60:.1f} minutes of load. RSS range: {rss}. "
        f"Jobs done: {done or 'not recorded'}. Lost jobs: {data.get('lost', '?')}; "
        f"growing series: {', '.join(data.get('growing') or []) or 'none'}"
        + (
            "; the load fell behind its schedule (inconclusive)"
            if data.get("behind_schedule")
            else ""
        )
        + "."
    ]


Section = tuple[str, tuple[str, ...], str, Callable[[Record], list[str]]]
SECTIONS: tuple[Section, ...] = (
    (
        "The runtime against raw aio-pika, FastStream, Taskiq, Dramatiq and Celery",
        ("contenders",),
        "report-contenders.png",
        contenders_numbers,
    ),
    (
        "Campaign throughput against campaign size",
        ("campaign-scale-csv", "campaign-scale-json"),
        "report-campaign-size.png",
        scale_numbers,
    ),
    (
        "Campaign throughput against worker count",
        ("campaign-workers",),
        "report-campaign-workers.png",
        workers_numbers,
    ),
    (
        "Single-send latency behind a campaign backlog",
        ("backlog-latency",),
        "report-latency-cdf.png",
        latency_numbers,
    ),
    ("One RabbitMQ node against three", ("cluster",), "report-cluster.png", cluster_numbers),
    ("Soak: memory and throughput over time", ("soak",), "report-soak.png", soak_numbers),
)


def render(
    records: dict[str, Record],
    figures: dict[str, Path],
    *,
    generated: str,
    command: str,
    source: str,
) -> str:
    """The whole document; `figures` maps each drawn PNG's name to its path, `source`
    names the results directory."""
    lines = [
        "# Benchmark report",
        "",
        f"Generated {generated} by `{command}` from the raw results in `{source}` "
        "(`make report` measures afresh; `make report FROM=bench/results` redraws from the "
        "saved results). Every plot names, under its axes, the machine, the date, the commit "
        "and the command of what it shows; a figure from a run smaller than the full-size one "
        "says **REDUCED RUN** and why. The machine may have been shared with other work: the "
        "load average says how busy it was.",
    ]
    small = [s.what for s in SOURCES if s.kind in records and reduced(records[s.kind])]
    if small:
        lines += ["", f"**From reduced runs** (indicative only): {'; '.join(small)}."]
    crowded = [s.what for s in SOURCES if s.kind in records and busy(records[s.kind])]
    if crowded:
        lines += [
            "",
            "**Measured on a busy machine** (load average above the core count, so every "
            f"rate is lower and noisier than on a quiet one): {'; '.join(crowded)}.",
        ]
    lines += ["", "## Sources", "", *sources_table(records)]
    for title, kinds, png, numbers in SECTIONS:
        lines += ["", f"## {title}", ""]
        found = [records[kind] for kind in kinds if kind in records]
        if not found:
            wanted = " / ".join(f"`{BY_KIND[kind].produced_by}`" for kind in kinds)
            lines.append(f"No saved results: run {wanted}.")
            continue
        for record in found:
            if why := reduced(record):
                lines.append(f"**Reduced run** ({why}): indicative only.")
                lines.append("")
        if png in figures:
            lines += [f"![{title}](figures/{png})", ""]
        for position, record in enumerate(found):
            lines += [""] * (position > 0) + numbers(record)
    return "\n".join(lines) + "\n"
