"""The soak's series: what is sampled while the load runs, how growth is judged, the PNG
plot and the raw series saved for `python -m bench.report` (bench/results.py).

A sample holds the size of every table retention prunes and of the business tables, the
run's Redis keys, each process's RSS, and how many requests the load had got accepted and
how many jobs each worker had done so far (its `relay_jobs_processed_total`), from which
the report draws throughput over time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from bench.results import Recording
from tests.support import Stack

PRUNED = (
    "runtime.processed_messages",
    "runtime.failed_jobs",
    "runtime.outbox",
    "sms.attempts",
    "sms.receipts",
    "notifications.notifications",
)
BUSINESS = ("sms.messages", "payments.payments", "payments.webhook_events")
# The queue whose finished jobs count as each worker's throughput.
WORK_QUEUES = {
    "sms": "sms.send",
    "payments": "payments.stripe",
    "notifications": "notifications.normal",
}
FLAT = 0.10  # the most a series may grow over the last half of the run, relative...
NOISE = 10.0  # ...unless it grows by fewer rows, keys or MB than this (a near-empty table)


@dataclass
class Sample:
    at: float  # seconds since the load started
    rows: dict[str, int]
    redis_keys: int
    rss_mb: dict[str, float]
    accepted: dict[str, int] = field(default_factory=dict)  # requests answered 2xx so far
    done: dict[str, int] = field(default_factory=dict)  # jobs each worker finished so far


@dataclass
class Accepted:
    sms: int = 0
    receipts: int = 0
    webhooks: int = 0
    notifications: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def refuse(self, what: str, status: int) -> None:
        key = f"{what} {status}"
        self.refused[key] = self.refused.get(key, 0) + 1


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def jobs_done(port: int, queue: str) -> int:
    """Jobs a worker finished on `queue`, from its Prometheus metrics."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    total = 0
    for line in text.splitlines():
        finished = 'outcome="done"' in line and f'queue="{queue}"' in line
        if line.startswith("relay_jobs_processed_total{") and finished:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


@dataclass
class Sampler:
    pool: asyncpg.Pool
    redis: Redis
    prefix: str
    stack: Stack
    started: float
    accepted: Accepted
    metrics_ports: dict[str, int]

    async def sample(self) -> Sample:
        rows = {
            table: int(await self.pool.fetchval(f"SELECT count(*) FROM {table}"))
            for table in (*PRUNED, *BUSINESS)
        }
        keys = 0
        async for _ in self.redis.scan_iter(match=f"{self.prefix}*", count=1000):
            keys += 1
        rss = {label: rss_mb(process.pid) for label, process in self.stack.processes.items()}
        accepted = {
            "sms": self.accepted.sms,
            "payments": self.accepted.webhooks,
            "notifications": self.accepted.notifications,
        }
        done = {
            worker: await jobs_done(self.metrics_ports[worker], queue)
            for worker, queue in WORK_QUEUES.items()
        }
        return Sample(time.monotonic() - self.started, rows, keys, rss, accepted, done)

    async def sample_forever(
        self, samples: list[Sample], every: float, load: asyncio.Task[None]
    ) -> None:
        """Sample every `every` seconds; stop the load if a process of the run died."""
        while True:
            dead = [label for label, p in self.stack.processes.items() if p.poll() is not None]
            if dead:
                print(f"ABORTED: {', '.join(dead)} exited; see tests/artifacts/soak/", flush=True)
                load.cancel()
                return
            samples.append(await self.sample())
            await asyncio.sleep(every)


# --------------------------------------------------------------------------- verdicts


def series(samples: list[Sample]) -> dict[str, list[float]]:
    named: dict[str, list[float]] = {}
    for sample in samples:
        values = {
            **{f"rows {t}": float(n) for t, n in sample.rows.items()},
            "redis keys": float(sample.redis_keys),
            **{f"RSS MB {p}": mb for p, mb in sample.rss_mb.items()},
        }
        for name, value in values.items():
            named.setdefault(name, []).append(value)
    return named


def growth(values: list[float]) -> tuple[float, float]:
    """How much `values` grew from the first third of the window to the last third:
    absolute, and relative to the window's mean. Medians of thirds, not a fitted line:
    pruning every few seconds makes a table's size a saw-tooth, which a line through a
    few samples mistakes for a trend."""
    if len(values) < 3:
        return 0.0, 0.0
    third = len(values) // 3
    grown = statistics.median(values[-third:]) - statistics.median(values[:third])
    mean = statistics.fmean(values)
    return grown, grown / mean if mean else 0.0


def report(samples: list[Sample], half: float, load_end: float) -> list[str]:
    """Print both series and each one's growth over the last half of the load (the sample
    taken after it ended is shown, not judged); returns the series that grow."""
    named = series(samples)
    times = [s.at for s in samples]
    print("\nseries (one column per sample; t = seconds since the load started)")
    print(f"{'t':>40} " + " ".join(f"{t:>7.0f}" for t in times))
    for name, values in named.items():
        print(f"{name:>40} " + " ".join(f"{v:>7.0f}" for v in values))
    judged = [i for i, t in enumerate(times) if load_end - half <= t <= load_end]
    growing = []
    print(
        f"\ngrowth over the last {half / 60:.1f} min of load "
        f"(flat: less than {FLAT:.0%} or {NOISE:g})"
    )
    for name, values in named.items():
        grown, rel = growth([values[i] for i in judged])
        business = any(name.endswith(t) for t in BUSINESS)
        flat = rel <= FLAT or grown <= NOISE
        verdict = "grows by design" if business else ("flat" if flat else "GROWS")
        if verdict == "GROWS":
            growing.append(name)
        print(f"{name:>40} {grown:>+9.1f} {rel:>+8.1%}  {verdict}")
    return growing


def plot(samples: list[Sample], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    named = series(samples)
    times = [s.at / 60 for s in samples]
    groups = {
        "tables retention prunes (rows)": [f"rows {t}" for t in PRUNED],
        "business tables (rows, grow by design)": [f"rows {t}" for t in BUSINESS],
        "Redis keys of the run": ["redis keys"],
        "RSS (MB)": [name for name in named if name.startswith("RSS")],
    }
    figure, axes = plt.subplots(len(groups), 1, figsize=(10, 12), sharex=True)
    for axis, (title, names) in zip(axes, groups.items(), strict=True):
        for name in names:
            axis.plot(times, named[name], label=name.split(" ", 2)[-1])
        axis.set_title(title)
        axis.legend(fontsize="small", loc="upper left")
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("minutes since the load started")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)


def save(
    recording: Recording,
    parameters: dict[str, Any],
    samples: list[Sample],
    load_end: float,
    outcome: dict[str, Any],
) -> None:
    """Every sample as it was taken, plus the run's outcome (lost jobs, verdict)."""
    recording.save(
        "soak",
        parameters,
        {"load_end_s": load_end, "samples": [asdict(s) for s in samples], **outcome},
    )
