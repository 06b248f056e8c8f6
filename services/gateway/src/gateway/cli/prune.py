"""`relay prune`: delete records older than their RETENTION_* setting, now."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .running import console, run

if TYPE_CHECKING:
    from common.retention import Pruned

    from ..settings import GatewaySettings

app = typer.Typer()


@app.command("prune")
def prune_now() -> None:
    """Delete records older than their RETENTION_* setting, now (the gateway does it every
    PRUNE_EVERY_SECONDS): processed messages, idempotency keys, dashboard records,
    attempt logs, SSE replay rows, failed jobs."""
    from common.retention import RetentionSettings, prune
    from common.runtime import Runtime
    from rich.table import Table

    async def work(settings: GatewaySettings) -> list[Pruned]:
        # The same pruning as the gateway's periodic one (common.retention), by hand.
        runtime = await Runtime.start(settings, "relay-cli", queues=(), wait_for_broker=False)
        try:
            return await prune(runtime, RetentionSettings())
        finally:
            await runtime.close()

    results = run(work)
    table = Table(title="Pruned")
    for column in ("Records", "Kind", "Older than (days)", "Deleted"):
        table.add_column(column, justify="right" if column == "Deleted" else "left")
    for result in results:
        deleted = f"[red]{result.error}[/red]" if result.error else str(result.deleted)
        table.add_row(result.rule, result.kind, f"{result.days:g}", deleted)
    console().print(table)
    if any(result.error for result in results):
        raise typer.Exit(1)
