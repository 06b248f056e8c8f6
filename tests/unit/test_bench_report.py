"""`python -m bench.report --from-saved DIR` draws the report from saved results alone: a
tiny results directory in the format the benchmarks write (bench/results.py), one file
of each kind, shaped like what each benchmark saves."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.results import Recording

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "report-contenders.png",
    "report-campaign-size.png",
    "report-campaign-workers.png",
    "report-latency-cdf.png",
    "report-cluster.png",
    "report-soak.png",
)


def contender(label: str, *rates: float) -> dict[str, Any]:
    runs = [
        {"msgs_per_s": r, "elapsed_s": 1000 / r, "p50_ms": 100.0, "p99_ms": 180.0, "redelivered": 0}
        for r in rates
    ]
    return {"key": label.split()[0], "label": label, "config": f"{label} config", "runs": runs}


def campaign(recipients: int, rate: float) -> dict[str, Any]:
    return {
        "recipients": recipients,
        "accepted_s": 0.5,
        "settled_s": recipients / rate,
        "msgs_per_s": rate,
        "gateway_rss_before_mb": 120.0,
        "gateway_rss_after_mb": 125.0,
        "worker_cpu_us_per_msg": 260.0,
        "postgres_cpu_us_per_msg": 70.0,
    }


def soak_sample(at: float, done: int) -> dict[str, Any]:
    return {
        "at": at,
        "rows": {"runtime.outbox": 0, "sms.messages": done},
        "redis_keys": 40,
        "rss_mb": {"gateway": 130.0 + at / 60, "sms.1": 100.0},
        "accepted": {"sms": done, "payments": done // 2, "notifications": done},
        "done": {"sms": done, "payments": done // 2, "notifications": done},
    }


def write_results(directory: Path, *, reduced: bool) -> None:
    """One results file of each kind; `reduced` makes the contenders a 2,000-job run and
    the soak a 3-minute one."""

    def save(command: str, kind: str, parameters: dict[str, Any], data: dict[str, Any]) -> None:
        Recording(command).save(kind, parameters, data, directory=directory)

    contenders = [
        contender("raw aio-pika", 4180, 4254, 4339),
        contender("relay runtime", 3756, 3992, 4257),
        contender("faststream", 2100, 2232, 2300),
        contender("celery", 1139, 1294, 1304),
    ]
    n, runs = (2_000, 1) if reduced else (20_000, 3)
    save(
        f"python -m bench --n {n} --runs {runs}",
        "contenders",
        {"n": n, "runs": runs},
        {"baseline": "raw aio-pika", "contenders": contenders, "failed": []},
    )
    sizes = (10_000, 50_000, 100_000)
    for body, rates in (("csv", (1756, 1897, 2003)), ("json", (2970, 2402, 2300))):
        save(
            f"python -m bench.sms_bench --only scale --body {body}",
            f"campaign-scale-{body}",
            {"sizes": list(sizes), "body": body, "chunk": None},
            {
                "body": body,
                "chunk": 50,
                "provider_ceiling_msgs_per_s": 8198.0,
                "campaigns": [campaign(s, r) for s, r in zip(sizes, rates, strict=True)],
            },
        )
    workers = [
        {
            "workers": count,
            "messages": 20_000,
            "first_to_last_msgs_per_s": 5000.0 * count**0.5,
            "from_post_msgs_per_s": 4000.0 * count**0.5,
            "post_seconds": 1.2,
            "duplicates": 0,
            "sent": 20_000,
            "failed": 0,
        }
        for count in (1, 2, 4)
    ]
    save(
        "python -m bench.sms_bench --only throughput --workers 1,2,4",
        "campaign-workers",
        {"messages": 20_000, "workers": [1, 2, 4]},
        {"runs": workers},
    )
    save(
        "python -m bench.sms_bench --only latency",
        "backlog-latency",
        {"messages": 20_000, "singles": 50},
        {
            "campaign_messages": 20_000,
            "latencies_s": [0.005 + i / 1000 for i in range(50)],
            "p50_ms": 29.5,
            "p99_ms": 53.0,
            "campaign_left_at_end": 9_000,
        },
    )
    one_node = {
        "campaign_10k_seconds": 5.7,
        "campaign_msgs_per_s": 1763,
        "campaign_steady_msgs_per_s": 1900,
    }
    save(
        "bash infra/test-cluster.sh -k throughput",
        "cluster",
        {"campaign": 10_000, "warm_up": 2_000},
        {"one_node": one_node, "three_nodes": {k: v * 0.78 for k, v in one_node.items()}},
    )
    minutes = 3 if reduced else 20
    samples = [soak_sample(at, int(at * 25)) for at in range(0, minutes * 60 + 1, 15)]
    save(
        f"python -m bench.soak --minutes {minutes}",
        "soak",
        {"minutes": minutes, "sms": 10, "webhooks": 5, "notifications": 10, "sample": 15},
        {
            "load_end_s": minutes * 60.0,
            "samples": samples,
            "lost": 0,
            "growing": [],
            "behind_schedule": False,
            "refused": {},
        },
    )


def report(results: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.report", "--from-saved", str(results), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_report_from_saved_results_draws_every_figure(tmp_path: Path) -> None:
    results, out = tmp_path / "results", tmp_path / "out"
    write_results(results, reduced=True)
    for path in results.glob("*.json"):
        record = json.loads(path.read_text())
        cores = record["machine"]["cores"]
        busy = record["kind"] == "soak"
        record["load_average"] = {"start": cores * (3 if busy else 0.1), "end": cores * 0.2}
        path.write_text(json.dumps(record))

    done = report(results, out)

    assert done.returncode == 0, done.stderr
    for name in FIGURES:
        width, height = png_size(out / "figures" / name)
        assert width >= 600 and height >= 400, (name, width, height)
    text = (out / "report.md").read_text()
    for name in FIGURES:
        assert f"](figures/{name})" in text
    # The numbers under each plot come from the saved results.
    assert "| relay runtime | 3 | 3,756 | 3,992 | 4,257 | 0.94x | 100.0 | 180.0 |" in text
    assert "| 100,000 | 0.5 s | 49.9 s | 2,003 | 260 µs | 70 µs | +5 MB |" in text
    assert "Three nodes carry 78% of one node's rate." in text
    assert "50 sends behind a 20,000-message campaign: p50 30 ms, p99 53 ms" in text
    # Where each figure comes from, and which ones are reduced.
    assert "`python -m bench.soak --minutes 3`" in text
    assert "**reduced run**: 2,000 jobs x 1 run(s); full size: 20,000 x 3" in text
    assert "3 minutes; full size: 20" in text
    assert (
        "**From reduced runs** (indicative only): runtime vs raw aio-pika, FastStream, Taskiq, "
        "Dramatiq, Celery; soak: RSS and throughput over time." in text
    )
    assert "campaign msg/s against sms worker count" in text
    # Only the soak ran with the load average above the core count.
    assert (
        "**Measured on a busy machine** (load average above the core count, so every rate "
        "is lower and noisier than on a quiet one): soak: RSS and throughput over time." in text
    )


def test_missing_results_are_named_not_drawn(tmp_path: Path) -> None:
    results, out = tmp_path / "results", tmp_path / "out"
    write_results(results, reduced=False)
    (results / "cluster.json").unlink()
    (results / "soak.json").unlink()

    done = report(results, out)

    assert done.returncode == 0, done.stderr
    text = (out / "report.md").read_text()
    assert "No saved results: run `bash infra/test-cluster.sh -k throughput" in text
    assert "No saved results: run `python -m bench.soak --minutes 20`" in text
    assert not (out / "figures" / "report-cluster.png").exists()
    assert (out / "figures" / "report-contenders.png").exists()
    assert "reduced run" not in text.lower().replace("**reduced run** and why", "")


@pytest.mark.parametrize("content", ["", "{}", '{"kind": "contenders"}'])
def test_a_directory_without_results_is_refused(tmp_path: Path, content: str) -> None:
    results = tmp_path / "results"
    results.mkdir()
    if content:
        (results / "contenders.json").write_text(content)

    done = report(results, tmp_path / "out")

    assert done.returncode != 0
    assert not (tmp_path / "out" / "report.md").exists()
