"""Helpers of the ops tests: the demo worker as a Stack process, metrics scraping."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.ops_worker_app import DEMO, Demo, broken_flag

__all__ = ["DEMO", "Demo", "broken_flag", "sample", "scrape", "start_demo_worker"]

DEMO_WORKER = ".venv/bin/python -m tests.e2e.ops_worker_app"


def start_demo_worker(stack: Any, replica: int | None = None, **env: Any) -> str:
    """Start the demo worker like a Procfile process (logs in the stack's artefacts)."""
    stack.commands.setdefault("opsdemo", DEMO_WORKER)
    return str(stack.start("opsdemo", replica=replica, **env))


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, keyed by (name, sorted labels)."""
    text = httpx.get(url, timeout=5).text
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def sample(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
