"""Which saved results feed which figure, what a full-size run is, and the caption that
says where and how each one was measured (machine, date, commit, command)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]


def _contenders_reduced(p: dict[str, Any]) -> str | None:
    if p.get("n", 0) >= 20_000 and p.get("runs", 0) >= 3:
        return None
    return f"{p.get('n', 0):,} jobs x {p.get('runs', 0)} run(s); full size: 20,000 x 3"


def _scale_reduced(p: dict[str, Any]) -> str | None:
    sizes = p.get("sizes") or [0]
    if max(sizes) >= 100_000 and min(sizes) <= 10_000:
        return None
    shown = " / ".join(f"{size:,}" for size in sizes)
    return f"{shown} recipients; full size: 10,000 to 100,000"


def _workers_reduced(p: dict[str, Any]) -> str | None:
    if p.get("messages", 0) >= 20_000 and {1, 2, 4} <= set(p.get("workers", [])):
        return None
    return f"{p.get('messages', 0):,} messages; full size: 20,000 with 1, 2 and 4 workers"


def _latency_reduced(p: dict[str, Any]) -> str | None:
    if p.get("messages", 0) >= 20_000 and p.get("singles", 0) >= 50:
        return None
    return (
        f"{p.get('singles', 0)} sends behind {p.get('messages', 0):,} messages; "
        "full size: 50 behind 20,000"
    )


def _soak_reduced(p: dict[str, Any]) -> str | None:
    if p.get("minutes", 0) >= 20:
        return None
    return f"{p.get('minutes', 0):g} minutes; full size: 20"


@dataclass(frozen=True)
class Source:
    kind: str  # the results file's kind (bench/results.py)
    what: str  # one line for the sources table
    produced_by: str  # the command that writes it at full size
    reduced: Callable[[dict[str, Any]], str | None]  # why a run is not full size, or None


SOURCES = (
    Source(
        "contenders",
        "runtime vs raw aio-pika, FastStream, Taskiq, Dramatiq, Celery",
        "python -m bench --n 20000 --runs 3",
        _contenders_reduced,
    ),
    Source(
        "campaign-scale-csv",
        "campaign msg/s against size, CSV upload, 1 worker",
        "python -m bench.sms_bench --only scale --sizes 10000,25000,50000,100000 --body csv",
        _scale_reduced,
    ),
    Source(
        "campaign-scale-json",
        "campaign msg/s against size, JSON body, 1 worker",
        "python -m bench.sms_bench --only scale --sizes 10000,25000,50000,100000 --body json",
        _scale_reduced,
    ),
    Source(
        "campaign-workers",
        "campaign msg/s against sms worker count",
        "python -m bench.sms_bench --only throughput --workers 1,2,4 --messages 20000",
        _workers_reduced,
    ),
    Source(
        "backlog-latency",
        "single-send latency behind a campaign backlog",
        "python -m bench.sms_bench --only latency --messages 20000 --singles 50",
        _latency_reduced,
    ),
    Source(
        "cluster",
        "campaign msg/s, one RabbitMQ node against three",
        "bash infra/test-cluster.sh -k throughput  (make test-cluster)",
        lambda p: None,  # the suite's campaign size is fixed
    ),
    Source(
        "soak",
        "soak: RSS and throughput over time",
        "python -m bench.soak --minutes 20",
        _soak_reduced,
    ),
)
BY_KIND = {source.kind: source for source in SOURCES}


def reduced(record: Record) -> str | None:
    source = BY_KIND.get(record["kind"])
    return source.reduced(record.get("parameters") or {}) if source else None


def machine_line(record: Record) -> str:
    machine = record.get("machine") or {}
    ram = machine.get("ram_gib")
    parts = [
        f"{machine.get('cores', '?')} cores",
        machine.get("cpu_model") or "CPU unknown",
        f"{ram:g} GiB RAM" if ram else "RAM unknown",
    ]
    return ", ".join(parts)


def commit_line(record: Record) -> str:
    git = record.get("git") or {}
    commit = (git.get("commit") or "unknown")[:10]
    return commit + (" + local changes" if git.get("dirty") else "")


def load_line(record: Record) -> str:
    load = record.get("load_average") or {}
    start, end = load.get("start"), load.get("end")
    if start is None or end is None:
        return "load unknown"
    return f"load {start:.1f} → {end:.1f}"


def busy(record: Record) -> bool:
    """Was the machine busier than its cores at the start or the end of the run?"""
    load = record.get("load_average") or {}
    cores = (record.get("machine") or {}).get("cores") or 0
    peak = max(load.get("start") or 0, load.get("end") or 0)
    return bool(cores) and peak > cores


def caption(record: Record) -> str:
    """Two lines for a figure's footer: machine, date, commit, load; the command."""
    date = str(record.get("started", "?")).replace("T", " ").replace("Z", " UTC")
    first = f"{machine_line(record)} · {date} · commit {commit_line(record)} · {load_line(record)}"
    line = f"{first}\n$ {record.get('command', '?')}"
    if busy(record):
        line += "\nBUSY MACHINE: load average above the core count, figures indicative only"
    why = reduced(record)
    return f"{line}\nREDUCED RUN: {why}" if why else line
