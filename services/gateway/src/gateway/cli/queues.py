"""`relay queues` (depths, rates, pause state), `relay queue pause | continue | clear Q`
and `relay terminate`: Horizon's pause / continue / terminate and Laravel's `queue:clear`
(gateway.admin.queues)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .running import console, control_connections, fail, run

if TYPE_CHECKING:
    from ..admin.queue_stats import QueueStats
    from ..settings import GatewaySettings

# Commands at the top level: `relay queues`, `relay terminate`.
app = typer.Typer()
# One queue: `relay queue pause Q` ...
queue_app = typer.Typer(help="One queue: pause, continue, clear.", no_args_is_help=True)
WorkQueue = Annotated[str, typer.Argument(help="The work queue, e.g. sms.bulk")]


def _work_queue(queue: str) -> str:
    from ..admin.queues import NotAWorkQueue, require_work_queue

    try:
        return require_work_queue(queue)
    except NotAWorkQueue as wrong:
        fail(str(wrong), 2)


@app.command("queues")
def queues() -> None:
    """Queue depths, rates, consumers and pause state (from the RabbitMQ management API)."""
    import httpx
    from rich.table import Table

    from ..admin.queue_stats import queue_overview

    async def work(settings: GatewaySettings) -> list[QueueStats]:
        async with control_connections(settings) as runtime:
            return await queue_overview(runtime)

    try:
        stats = run(work)
    except httpx.HTTPError as error:
        fail(f"RabbitMQ management API unreachable: {error}", 2)
    table = Table(title="Queues")
    columns = ("Queue", "Ready", "Unacked", "Delayed", "Consumers", "In/s", "Out/s", "State")
    for column in columns:
        table.add_column(column, justify="left" if column in ("Queue", "State") else "right")
    for q in stats:
        table.add_row(
            f"{q.name} [cyan](Laravel)[/]" if q.laravel else q.name,
            str(q.ready),
            str(q.unacked),
            str(q.delayed),
            str(q.consumers),
            f"{q.publish_rate:.1f}",
            f"{q.deliver_rate:.1f}",
            "[bold yellow]paused[/]" if q.paused else "running",
        )
    console().print(table)


@queue_app.command("pause")
def queue_pause(queue: WorkQueue) -> None:
    """Every worker stops taking jobs from QUEUE (running jobs finish; the rest wait)."""
    from ..admin import queues
    from ..admin.actor import cli_actor

    _work_queue(queue)

    async def work(settings: GatewaySettings) -> None:
        async with control_connections(settings) as runtime:
            await queues.pause(runtime, cli_actor(), queue)

    run(work)
    console().print(f"{queue} paused: running jobs finish, waiting jobs stay in RabbitMQ")


@queue_app.command("continue")
def queue_continue(queue: WorkQueue) -> None:
    """Every worker takes jobs from QUEUE again."""
    from ..admin import queues
    from ..admin.actor import cli_actor

    _work_queue(queue)

    async def work(settings: GatewaySettings) -> bool:
        async with control_connections(settings) as runtime:
            return await queues.resume(runtime, cli_actor(), queue)

    console().print(f"{queue} continued" if run(work) else f"{queue} was not paused")


@queue_app.command("clear")
def queue_clear(
    queue: WorkQueue,
    tiers: Annotated[bool, typer.Option("--tiers", help="Also empty its retry tiers")] = False,
    force: Annotated[bool, typer.Option("--force", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete every job waiting in QUEUE (php artisan queue:clear); running jobs finish."""
    _work_queue(queue)
    what = f"{queue} and its retry tiers" if tiers else queue
    if not force and not typer.confirm(f"Delete every job waiting in {what}?", default=False):
        console().print("nothing deleted")
        raise typer.Exit(1)
    import httpx

    from ..admin import queues
    from ..admin.actor import cli_actor

    async def work(settings: GatewaySettings) -> dict[str, int]:
        async with control_connections(settings) as runtime:
            return await queues.clear(runtime, cli_actor(), queue, tiers=tiers)

    try:
        removed = run(work)
    except httpx.HTTPError as error:
        fail(f"RabbitMQ management API unreachable (tiers not listed): {error}", 2)
    for name, count in removed.items():
        console().print(f"{name}: {count} job(s) deleted")
    console().print(f"{sum(removed.values())} job(s) deleted")


@app.command("terminate")
def terminate() -> None:
    """Every worker finishes its running jobs and exits, so its process manager restarts
    it on the new code (php artisan horizon:terminate, after a deploy)."""
    from ..admin import queues
    from ..admin.actor import cli_actor

    async def work(settings: GatewaySettings) -> None:
        async with control_connections(settings) as runtime:
            await queues.terminate(runtime, cli_actor())

    run(work)
    console().print("every worker finishes its running jobs, then exits to be restarted")
