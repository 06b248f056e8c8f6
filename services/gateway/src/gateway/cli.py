"""`relay`: the Laravel queue runbook on the command line.

relay failed list [--queue Q]      php artisan queue:failed
relay failed retry ID | --all      php artisan queue:retry ID | all
relay failed forget ID             php artisan queue:forget ID
relay failed flush [--queue Q]     php artisan queue:flush
relay queues                       depths, rates, consumers, paused
relay top                          live view of the queues (Horizon's dashboard in a terminal)
relay queue pause Q | continue Q   php artisan horizon:pause / horizon:continue (one queue)
relay queue clear Q [--tiers]      php artisan queue:clear (asks first; --force skips it)
relay terminate                    php artisan horizon:terminate (workers finish, exit, restart)
relay keys create --scope user|service|admin [--user U] [--expires 30d] [--name N]
relay keys list | revoke ID | rotate ID [--overlap 24h]
relay audit                        who did what, when, from where (admin actions, log-ins)
relay prune                        delete records older than their RETENTION_* setting
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import asyncpg
import httpx
import typer
from common import db
from common.control import AuditLog, QueueControl, is_work_queue, paused_queues
from common.dead_letters import FailedJobStore
from common.errors import BrokerUnavailable, Conflict, NotFound
from common.lifecycle import LifecycleStore
from common.publisher import Publisher
from common.retention import Pruned, RetentionSettings, prune
from common.runtime import Runtime, connect_redis
from common.telemetry.logs import configure_logging
from common.topology import all_queues
from common.web import SCOPES
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from .auth.keys import DEFAULT_OVERLAP, KeyStore, parse_duration
from .ops.admin_actions import cli_actor
from .ops.keys import default_user
from .ops.queues import mark_paused, queue_stats, unpark
from .settings import GatewaySettings

app = typer.Typer(
    help="Relay: jobs on RabbitMQ, with the Laravel queue runbook.", no_args_is_help=True
)
failed_app = typer.Typer(help="Failed jobs: list, retry, forget, flush.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
queue_app = typer.Typer(help="One queue: pause, continue, clear.", no_args_is_help=True)
app.add_typer(failed_app, name="failed")
app.add_typer(keys_app, name="keys")
app.add_typer(queue_app, name="queue")
console = Console()
notes = Console(stderr=True)  # side remarks, kept out of --json output
T = TypeVar("T")


def _run(work: Callable[[GatewaySettings], Coroutine[Any, Any, T]]) -> T:
    settings = GatewaySettings()
    # Log lines (the audit line of an admin action, warnings) go to stderr.
    configure_logging(settings.log_level, settings.log_format)
    try:
        return asyncio.run(work(settings))
    except (NotFound, Conflict) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    except BrokerUnavailable as error:
        console.print(f"[red]RabbitMQ is unreachable at RABBITMQ_URL: {error}[/red]")
        raise typer.Exit(2) from error


async def _audit(
    settings: GatewaySettings, action: str, target: str, pool: Any = None, **details: Any
) -> None:
    """Record a CLI admin action in the audit trail, as `cli:<os user>` from `cli@<host>`."""
    actor, origin = cli_actor()
    if pool is not None:
        await AuditLog(pool).record(actor, action, target, origin, **details)
        return
    # Queue control needs only Redis and RabbitMQ: with Postgres down the action stands
    # and its audit line is logged as not stored, rather than the CLI waiting for it.
    try:
        await asyncio.to_thread(db.migrate, settings.database_url)
        own = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1, timeout=5)
    except Exception as error:
        logging.getLogger("relay.audit").error(
            "audit record not stored",
            extra={"actor": actor, "action": action, "target": target, "error": repr(error)},
        )
        return
    try:
        await AuditLog(own).record(actor, action, target, origin, **details)
    finally:
        await own.close()


async def _store(settings: GatewaySettings) -> FailedJobStore:
    await db.migrate_when_ready(settings.database_url)
    return FailedJobStore(await db.create_pool(settings.database_url, min_size=1, max_size=4))


async def _unpark(settings: GatewaySettings, store: FailedJobStore, publisher: Publisher) -> None:
    """Parked messages are listed and retried with the failed jobs: move them in first."""
    moved = await unpark(settings, store, publisher)
    if moved:
        notes.print(f"{moved} parked message(s) moved into the failed jobs")


@failed_app.command("list")
def failed_list(
    queue: Annotated[str | None, typer.Option(help="Only this queue")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List failed jobs, newest first."""

    async def work(settings: GatewaySettings) -> None:
        store = await _store(settings)
        publisher = Publisher(settings, all_queues())
        try:
            await _unpark(settings, store, publisher)
        finally:
            await publisher.close()
        jobs = await store.list(queue, limit)
        total = await store.count(queue)
        await store.pool.close()
        if as_json:
            print(json.dumps([job.model_dump(mode="json") for job in jobs], indent=2))
            return
        table = Table(title=f"Failed jobs ({total})")
        for column in ("ID", "Queue", "Type", "Attempts", "Failed at", "Error"):
            table.add_column(column, overflow="fold")
        for job in jobs:
            table.add_row(
                str(job.id),
                job.queue,
                job.type,
                str(job.attempts),
                job.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
                job.error[:120],
            )
        console.print(table)

    _run(work)


@failed_app.command("retry")
def failed_retry(
    failed_id: Annotated[str | None, typer.Argument(help="The failed job's id")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Retry every failed job")] = False,
    queue: Annotated[str | None, typer.Option(help="With --all: only this queue")] = None,
) -> None:
    """Push a failed job (or all of them) back onto its queue with attempts reset."""
    if (failed_id is None) == (not all_jobs):
        console.print("[red]give a failed job ID, or --all[/red]")
        raise typer.Exit(2)

    async def work(settings: GatewaySettings) -> None:
        store = await _store(settings)
        publisher = Publisher(settings, all_queues())
        try:
            # Connected (and the topology declared) before any publish starts its timeout.
            await publisher.connect()
            if all_jobs:
                await _unpark(settings, store, publisher)
                count = await store.retry_all(publisher, queue)
                await _audit(settings, "failed.retry_all", queue or "*", store.pool, retried=count)
                console.print(f"{count} failed job(s) pushed back onto their queues")
            else:
                await store.retry(_uuid(failed_id), publisher)
                await _audit(settings, "failed.retry", str(failed_id), store.pool)
                console.print(f"failed job {failed_id} pushed back onto its queue")
        finally:
            await publisher.close()
            await store.pool.close()

    _run(work)


@failed_app.command("forget")
def failed_forget(failed_id: Annotated[str, typer.Argument(help="The failed job's id")]) -> None:
    """Delete one failed job."""

    async def work(settings: GatewaySettings) -> None:
        store = await _store(settings)
        try:
            await store.forget(_uuid(failed_id))
            await _audit(settings, "failed.forget", str(failed_id), store.pool)
        finally:
            await store.pool.close()
        console.print(f"failed job {failed_id} deleted")

    _run(work)


@failed_app.command("flush")
def failed_flush(queue: Annotated[str | None, typer.Option(help="Only this queue")] = None) -> None:
    """Delete every failed job (of a queue)."""

    async def work(settings: GatewaySettings) -> None:
        store = await _store(settings)
        count = await store.flush(queue)
        await _audit(settings, "failed.flush", queue or "*", store.pool, flushed=count)
        await store.pool.close()
        console.print(f"{count} failed job(s) deleted")

    _run(work)


@app.command("queues")
def queues() -> None:
    """Queue depths, rates, consumers and pause state (from the RabbitMQ management API)."""

    async def work(settings: GatewaySettings) -> None:
        stats = await queue_stats(settings)
        redis = await connect_redis(settings.redis_url)
        try:
            mark_paused(stats, await paused_queues(redis, settings.redis_key_prefix))
        finally:
            await redis.aclose()
        table = Table(title="Queues")
        columns = ("Queue", "Ready", "Unacked", "Delayed", "Consumers", "In/s", "Out/s", "State")
        for column in columns:
            table.add_column(column, justify="left" if column in ("Queue", "State") else "right")
        for q in stats:
            table.add_row(
                q.name,
                str(q.ready),
                str(q.unacked),
                str(q.delayed),
                str(q.consumers),
                f"{q.publish_rate:.1f}",
                f"{q.deliver_rate:.1f}",
                "[bold yellow]paused[/]" if q.paused else "running",
            )
        console.print(table)

    _run(work)


async def _with_control(
    settings: GatewaySettings, action: Callable[[QueueControl], Coroutine[Any, Any, T]]
) -> T:
    redis = await connect_redis(settings.redis_url)
    publisher = Publisher(settings)
    try:
        return await action(QueueControl(redis, publisher, settings))
    finally:
        await publisher.close()
        await redis.aclose()


def _work_queue(queue: str) -> str:
    if not is_work_queue(queue):
        console.print(f"[red]{queue} is a retry tier or parked queue: name its work queue[/red]")
        raise typer.Exit(2)
    return queue


@queue_app.command("pause")
def queue_pause(
    queue: Annotated[str, typer.Argument(help="The work queue, e.g. sms.bulk")],
) -> None:
    """Every worker stops taking jobs from QUEUE (running jobs finish; the rest wait)."""
    actor = cli_actor()[0]

    async def work(settings: GatewaySettings) -> None:
        await _with_control(settings, lambda control: control.pause(_work_queue(queue), actor))
        await _audit(settings, "queue.pause", queue)

    _run(work)
    console.print(f"{queue} paused: running jobs finish, waiting jobs stay in RabbitMQ")


@queue_app.command("continue")
def queue_continue(
    queue: Annotated[str, typer.Argument(help="The work queue, e.g. sms.bulk")],
) -> None:
    """Every worker takes jobs from QUEUE again."""

    async def work(settings: GatewaySettings) -> bool:
        resumed = await _with_control(settings, lambda control: control.resume(_work_queue(queue)))
        await _audit(settings, "queue.continue", queue)
        return resumed

    was_paused = _run(work)
    console.print(f"{queue} continued" if was_paused else f"{queue} was not paused")


@queue_app.command("clear")
def queue_clear(
    queue: Annotated[str, typer.Argument(help="The work queue, e.g. sms.bulk")],
    tiers: Annotated[bool, typer.Option("--tiers", help="Also empty its retry tiers")] = False,
    force: Annotated[bool, typer.Option("--force", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete every job waiting in QUEUE (php artisan queue:clear); running jobs finish."""
    _work_queue(queue)
    what = f"{queue} and its retry tiers" if tiers else queue
    if not force and not typer.confirm(f"Delete every job waiting in {what}?", default=False):
        console.print("nothing deleted")
        raise typer.Exit(1)

    async def work(settings: GatewaySettings) -> dict[str, int]:
        removed = await _with_control(settings, lambda control: control.clear(queue, tiers=tiers))
        await _audit(settings, "queue.clear", queue, removed=sum(removed.values()), queues=removed)
        return removed

    try:
        removed = _run(work)
    except httpx.HTTPError as error:
        console.print(f"[red]RabbitMQ management API unreachable (tiers not listed): {error}[/red]")
        raise typer.Exit(2) from error
    total = sum(removed.values())
    for name, count in removed.items():
        console.print(f"{name}: {count} job(s) deleted")
    console.print(f"{total} job(s) deleted")


@app.command("terminate")
def terminate() -> None:
    """Every worker finishes its running jobs and exits, so its process manager restarts
    it on the new code (php artisan horizon:terminate, after a deploy)."""

    async def work(settings: GatewaySettings) -> str:
        request = await _with_control(settings, lambda control: control.terminate())
        await _audit(settings, "workers.terminate", "workers")
        return request

    _run(work)
    console.print("every worker finishes its running jobs, then exits to be restarted")


def _queues_table(stats: list[Any], title: str) -> Table:
    table = Table(title=title, expand=True)
    for column in ("Queue", "Ready", "Unacked", "Delayed", "Consumers", "In/s", "Out/s", "Wait"):
        table.add_column(column, justify="left" if column == "Queue" else "right")
    for q in stats:
        wait = q.oldest_wait_seconds
        table.add_row(
            q.name,
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

    async def frame(settings: GatewaySettings, waits: LifecycleStore) -> Group:
        stats = await queue_stats(settings)
        # Quorum queues report no head timestamp: estimate from the lifecycle records.
        estimated = await waits.oldest_waits({q.name: q.ready for q in stats})
        for q in stats:
            if q.oldest_wait_seconds is None:
                q.oldest_wait_seconds = estimated.get(q.name)
        ready = sum(q.ready for q in stats)
        stamp = time.strftime("%H:%M:%S")
        title = f"Relay queues at {stamp} · {ready} ready · every {interval:g}s · Ctrl-C quits"
        return Group(_queues_table(stats, title))

    async def work(settings: GatewaySettings) -> None:
        redis = await connect_redis(settings.redis_url)
        waits = LifecycleStore(redis, settings)
        try:
            if once:
                console.print(await frame(settings, waits))
                return
            first = await frame(settings, waits)
            with Live(first, console=console, auto_refresh=False) as live:
                while True:
                    await asyncio.sleep(interval)
                    try:
                        live.update(await frame(settings, waits), refresh=True)
                    except httpx.HTTPError as error:
                        live.update(f"[red]management API unreachable: {error}[/]", refresh=True)
        finally:
            await redis.aclose()

    try:
        _run(work)
    except KeyboardInterrupt:
        pass
    except httpx.HTTPError as error:
        console.print(f"[red]RabbitMQ management API unreachable: {error}[/red]")
        raise typer.Exit(2) from error


async def _keys(settings: GatewaySettings) -> KeyStore:
    await db.migrate_when_ready(settings.database_url)
    return KeyStore(await db.create_pool(settings.database_url, min_size=1, max_size=2))


def _duration(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        console.print(f"[red]{option}: {error}[/red]")
        raise typer.Exit(2) from error
    if seconds <= 0 and option != "--overlap":
        console.print(f"[red]{option}: must be more than 0[/red]")
        raise typer.Exit(2)
    return seconds


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


@keys_app.command("create")
def keys_create(
    scope: Annotated[
        str, typer.Option(help="user (acts for one user), service (any user), admin (ops)")
    ] = "user",
    user: Annotated[
        str | None, typer.Option(help="The user id the key acts as (needed for user keys)")
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="Lifetime, e.g. 30d, 12h (default: never)")
    ] = None,
    name: Annotated[str, typer.Option(help="What the key is for")] = "",
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    if scope not in SCOPES:
        console.print("[red]--scope: one of user, service, admin[/red]")
        raise typer.Exit(2)
    if scope == "user" and not user:
        console.print("[red]--user: a user key needs the user it acts for[/red]")
        raise typer.Exit(2)
    lifetime = _duration(expires, "--expires")

    async def work(settings: GatewaySettings) -> Any:
        store = await _keys(settings)
        try:
            created = await store.create(
                scope,
                default_user(scope, user, name),
                name,
                lifetime,
                created_by=cli_actor()[0],
            )
            await _audit(
                settings, "key.create", created.id, store.pool, scope=scope, user=created.user
            )
            return created
        finally:
            await store.pool.close()

    created = _run(work)
    expiry = f", expires {_when(created.expires_at)} UTC" if created.expires_at else ""
    notes.print(f"{created.scope} key {created.id} for {created.user}{expiry} (shown once):")
    print(created.key)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Every key: id, name, scope, user, created, expires, last used (never the key)."""

    async def work(settings: GatewaySettings) -> Any:
        store = await _keys(settings)
        try:
            return await store.list()
        finally:
            await store.pool.close()

    keys = _run(work)
    if as_json:
        print(json.dumps([key.model_dump(mode="json") for key in keys], indent=2))
        return
    table = Table(title=f"API keys ({len(keys)})")
    for column in ("ID", "Name", "Scope", "User", "Created", "Expires", "Last used", "State"):
        table.add_column(column, overflow="fold")
    now = time.time()
    for key in keys:
        state = (
            "revoked"
            if key.revoked_at
            else "expired"
            if key.expires_at and key.expires_at.timestamp() <= now
            else "active"
        )
        table.add_row(
            key.id,
            key.name,
            key.scope,
            key.user,
            _when(key.created_at),
            _when(key.expires_at),
            _when(key.last_used_at),
            state,
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (relay keys list)")],
) -> None:
    """Revoke a key: every gateway refuses it within a second."""

    async def work(settings: GatewaySettings) -> None:
        store = await _keys(settings)
        try:
            await store.revoke(key_id)
            await _audit(settings, "key.revoke", key_id, store.pool)
        finally:
            await store.pool.close()

    _run(work)
    console.print(f"key {key_id} revoked")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="The key's id (relay keys list)")],
    overlap: Annotated[
        str, typer.Option(help="How long the old key keeps working, e.g. 24h, 0 (at once)")
    ] = f"{DEFAULT_OVERLAP // 3600}h",
) -> None:
    """A new key with the same scope and user; the old one works until the overlap ends."""
    seconds = _duration(overlap, "--overlap") or 0.0

    async def work(settings: GatewaySettings) -> Any:
        store = await _keys(settings)
        try:
            created = await store.rotate(key_id, seconds, created_by=cli_actor()[0])
            await _audit(
                settings, "key.rotate", key_id, store.pool, new_key=created.id, overlap=seconds
            )
            return created
        finally:
            await store.pool.close()

    created = _run(work)
    notes.print(f"key {created.id} replaces {key_id}, which works for {overlap} more (shown once):")
    print(created.key)


@app.command("audit")
def audit(
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this actor")] = None,
    action: Annotated[str | None, typer.Option(help="Only actions starting so, e.g. key.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The audit trail: who did what, to what, when and from where."""

    async def work(settings: GatewaySettings) -> Any:
        await db.migrate_when_ready(settings.database_url)
        pool = await db.create_pool(settings.database_url, min_size=1, max_size=1)
        try:
            return await AuditLog(pool).recent(limit, actor=actor, action=action)
        finally:
            await pool.close()

    records = _run(work)
    if as_json:
        print(json.dumps([r.model_dump(mode="json", by_alias=True) for r in records], indent=2))
        return
    table = Table(title="Audit trail")
    for column in ("At", "Actor", "Action", "Target", "From"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(_when(record.at), record.actor, record.action, record.target, record.origin)
    console.print(table)


@app.command("prune")
def prune_now() -> None:
    """Delete records older than their RETENTION_* setting, now (the gateway does it every
    PRUNE_EVERY_SECONDS): processed messages, idempotency keys, dashboard records,
    attempt logs, SSE replay rows, failed jobs."""

    async def work(settings: GatewaySettings) -> list[Pruned]:
        runtime = await Runtime.start(settings, "relay-cli", queues=(), wait_for_broker=False)
        try:
            return await prune(runtime, RetentionSettings())
        finally:
            await runtime.close()

    results = _run(work)
    table = Table(title="Pruned")
    for column in ("Records", "Kind", "Older than (days)", "Deleted"):
        table.add_column(column, justify="right" if column == "Deleted" else "left")
    for result in results:
        deleted = f"[red]{result.error}[/red]" if result.error else str(result.deleted)
        table.add_row(result.rule, result.kind, f"{result.days:g}", deleted)
    console.print(table)
    if any(result.error for result in results):
        raise typer.Exit(1)


def _uuid(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        console.print(
            f"[red]{value!r} is not a failed job id (a UUID from `relay failed list`)[/red]"
        )
        raise typer.Exit(2) from error


if __name__ == "__main__":
    app()
