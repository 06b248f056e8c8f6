"""Per-minute bar charts for the dashboard, drawn as inline SVG on the server."""

from __future__ import annotations

import time
from collections.abc import Callable

from common.lifecycle import MinuteStats
from pydantic import BaseModel

WIDTH = 600
HEIGHT = 120


class Bar(BaseModel):
    x: float
    y: float
    width: float
    height: float
    title: str


class Chart(BaseModel):
    title: str
    peak: str
    total: str
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT


def bar_chart(
    title: str,
    minutes: list[MinuteStats],
    value: Callable[[MinuteStats], float],
    unit: Callable[[float], str],
    total: str,
) -> Chart:
    """One bar per minute, scaled to the highest minute."""
    values = [value(m) for m in minutes]
    peak = max(values, default=0.0) or 1.0
    slot = WIDTH / max(1, len(minutes))
    bars = []
    for index, (minute, amount) in enumerate(zip(minutes, values, strict=True)):
        height = HEIGHT * amount / peak
        clock = time.strftime("%H:%M", time.localtime(minute.minute))
        bars.append(
            Bar(
                x=round(index * slot + 1, 1),
                y=round(HEIGHT - height, 1),
                width=round(max(1.0, slot - 2), 1),
                height=round(height, 1),
                title=f"{clock} {unit(amount)}",
            )
        )
    return Chart(title=title, peak=unit(max(values, default=0.0)), total=total, bars=bars)


def charts(minutes: list[MinuteStats]) -> list[Chart]:
    processed = sum(m.processed for m in minutes)
    failed = sum(m.failed for m in minutes)
    attempts = sum(m.done + m.failed + m.retried + m.other for m in minutes)
    runtime = sum(m.runtime_sum for m in minutes)
    return [
        bar_chart(
            "Jobs per minute (last hour)",
            minutes,
            lambda m: float(m.processed),
            lambda v: f"{v:.0f} jobs",
            f"{processed} processed, {failed} failed",
        ),
        bar_chart(
            "Average runtime per minute",
            minutes,
            lambda m: m.average_runtime * 1000,
            lambda v: f"{v:.1f} ms",
            f"{(runtime / attempts * 1000) if attempts else 0:.1f} ms on average",
        ),
    ]
