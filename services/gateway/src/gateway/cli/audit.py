"""`relay audit`: who did what, to what, when and from where (admin actions, log-ins)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from .running import console, postgres, run, when

if TYPE_CHECKING:
    from common.control import AuditRecord

    from ..settings import GatewaySettings

app = typer.Typer()


@app.command("audit")
def audit(
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this actor")] = None,
    action: Annotated[str | None, typer.Option(help="Only actions starting so, e.g. key.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The audit trail: who did what, to what, when and from where."""
    from rich.table import Table

    async def work(settings: GatewaySettings) -> list[AuditRecord]:
        async with postgres(settings) as runtime:
            return await runtime.audit.recent(limit, actor=actor, action=action)

    records = run(work)
    if as_json:
        print(json.dumps([r.model_dump(mode="json", by_alias=True) for r in records], indent=2))
        return
    table = Table(title="Audit trail")
    for column in ("At", "Actor", "Action", "Target", "From"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(when(record.at), record.actor, record.action, record.target, record.origin)
    console().print(table)
