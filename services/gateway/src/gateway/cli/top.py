"""`relay top`: a live view of the queues, Horizon's dashboard in a terminal."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from .running import console, fail, run

if TYPE_CHECKING:
    from rich.table import Table

    from ..admin.queue_stats import QueueStats
    from ..settings import GatewaySettings

app = typer.Typer()


def _queues_table(stats: list[QueueStats], title: str) -> Table:
    from rich.table import Table

    table = Table(title=title, expand=True)
    for column in ("Queue", "Ready", "Unacked", "Delayed", "Consumers", "In/s", "Out/s", "Wait"):
        table.add_column(column, justify="left" if column == "Queue" else "right")
    for q in stats:
        wait = q.oldest_wait_seconds
        table.add_row(
            f"{q.name} [cyan](Laravel)[/]" if q.laravel else q.name,
            f"[bold yellow]{q.ready}[/]" if q.ready else "0",
            str(q.unacked),
            str(q.delayed),
            str(q.consumers) if q.consumers else "[red]0[/]",
            f"{q.publish_rate:.1f}",
            f"{q.deliver_rate:.1f}",
            f"{wait:.0f}s" if wait else "-",
        )
    return table


@app.command("top")
def top(
    interval: Annotated[float, typer.Option(help="Seconds between refreshes")] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit")] = False,
) -> None:
    """A live view of the queues: depth, rates, consumers, oldest wait (Ctrl-C quits)."""
    import asyncio

    import httpx
    from rich.live import Live

    from ..admin.queue_stats import queue_overview
    from .running import control_connections

    async def work(settings: GatewaySettings) -> None:
        async with control_connections(settings) as runtime:

            async def frame() -> Table:
                # Quorum queues report no head timestamp: estimated from the lifecycle records.
                stats = await queue_overview(runtime, estimate_waits=True)
                ready = sum(q.ready for q in stats)
                stamp = time.strftime("%H:%M:%S")
                title = (
                    f"Relay queues at {stamp} · {ready} ready · every {interval:g}s · Ctrl-C quits"
                )
                return _queues_table(stats, title)

            if once:
                console().print(await frame())
                return
            with Live(await frame(), console=console(), auto_refresh=False) as live:
                while True:
                    await asyncio.sleep(interval)
                    try:
                        live.update(await frame(), refresh=True)
                    except httpx.HTTPError as error:
                        live.update(f"[red]management API unreachable: {error}[/]", refresh=True)

    try:
        run(work)
    except KeyboardInterrupt:
        pass
    except httpx.HTTPError as error:
        fail(f"RabbitMQ management API unreachable: {error}", 2)
