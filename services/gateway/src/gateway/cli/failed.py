"""`relay failed list | retry ID | retry --all | forget ID | flush`: Laravel's
`queue:failed`, `queue:retry`, `queue:forget`, `queue:flush` (gateway.admin.failed_jobs)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from .running import console, fail, failed_jobs_connections, notes, run, when

if TYPE_CHECKING:
    from ..settings import GatewaySettings

app = typer.Typer(help="Failed jobs: list, retry, forget, flush.", no_args_is_help=True)


def _note_unparked(moved: int) -> None:
    if moved:
        notes().print(f"{moved} parked message(s) moved into the failed jobs")


def _failed_id(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        fail(f"{value!r} is not a failed job id (a UUID from `relay failed list`)", 2)


@app.command("list")
def failed_list(
    queue: Annotated[str | None, typer.Option(help="Only this queue")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List failed jobs, newest first."""
    from rich.table import Table

    from ..admin import failed_jobs

    async def work(settings: GatewaySettings) -> failed_jobs.FailedJobsListed:
        async with failed_jobs_connections(settings) as runtime:
            return await failed_jobs.list_failed(runtime, queue, limit, with_total=True)

    listed = run(work)
    _note_unparked(listed.unparked)
    if as_json:
        print(json.dumps([job.model_dump(mode="json") for job in listed.jobs], indent=2))
        return
    table = Table(title=f"Failed jobs ({listed.total})")
    for column in ("ID", "Queue", "Type", "Attempts", "Failed at", "Error"):
        table.add_column(column, overflow="fold")
    for job in listed.jobs:
        table.add_row(
            str(job.id),
            job.queue,
            job.type,
            str(job.attempts),
            when(job.failed_at),
            job.error[:120],
        )
    console().print(table)


@app.command("retry")
def failed_retry(
    failed_id: Annotated[str | None, typer.Argument(help="The failed job's id")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Retry every failed job")] = False,
    queue: Annotated[str | None, typer.Option(help="With --all: only this queue")] = None,
) -> None:
    """Push a failed job (or all of them) back onto its queue with attempts reset."""
    if (failed_id is None) == (not all_jobs):
        fail("give a failed job ID, or --all", 2)
    from ..admin import failed_jobs
    from ..admin.actor import cli_actor

    if all_jobs:

        async def retry_all(settings: GatewaySettings) -> failed_jobs.RetriedAll:
            async with failed_jobs_connections(settings, connect=True) as runtime:
                return await failed_jobs.retry_all(runtime, cli_actor(), queue)

        done = run(retry_all)
        _note_unparked(done.unparked)
        console().print(f"{done.retried} failed job(s) pushed back onto their queues")
        return
    one = _failed_id(failed_id)

    async def retry(settings: GatewaySettings) -> None:
        async with failed_jobs_connections(settings, connect=True) as runtime:
            await failed_jobs.retry(runtime, cli_actor(), one)

    run(retry)
    console().print(f"failed job {failed_id} pushed back onto its queue")


@app.command("forget")
def failed_forget(failed_id: Annotated[str, typer.Argument(help="The failed job's id")]) -> None:
    """Delete one failed job."""
    from ..admin import failed_jobs
    from ..admin.actor import cli_actor

    one = _failed_id(failed_id)

    async def work(settings: GatewaySettings) -> None:
        async with failed_jobs_connections(settings) as runtime:
            await failed_jobs.forget(runtime, cli_actor(), one)

    run(work)
    console().print(f"failed job {failed_id} deleted")


@app.command("flush")
def failed_flush(queue: Annotated[str | None, typer.Option(help="Only this queue")] = None) -> None:
    """Delete every failed job (of a queue)."""
    from ..admin import failed_jobs
    from ..admin.actor import cli_actor

    async def work(settings: GatewaySettings) -> int:
        async with failed_jobs_connections(settings) as runtime:
            return await failed_jobs.flush(runtime, cli_actor(), queue)

    console().print(f"{run(work)} failed job(s) deleted")
