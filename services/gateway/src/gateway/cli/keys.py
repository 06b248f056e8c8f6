"""`relay keys create | list | revoke | rotate`: API keys, the same lifecycle as
`/v1/ops/keys` (gateway.admin.keys)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, cast

import typer

from .running import console, fail, notes, postgres, run, when

if TYPE_CHECKING:
    from common.web import Scope

    from ..auth.keys import CreatedKey, KeyRecord
    from ..settings import GatewaySettings

app = typer.Typer(help="API keys.", no_args_is_help=True)
# common.web.SCOPES and gateway.auth.keys.DEFAULT_OVERLAP as the options write them, spelled
# out so `relay --help` loads neither FastAPI nor the runtime (a unit test keeps them equal).
SCOPES = ("user", "service", "admin")
DEFAULT_OVERLAP = "24h"
KeyId = Annotated[str, typer.Argument(help="The key's id (relay keys list)")]


def _duration(text: str | None, option: str) -> float | None:
    from ..auth.keys import parse_duration

    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        fail(f"{option}: {error}", 2)
    if seconds <= 0 and option != "--overlap":
        fail(f"{option}: must be more than 0", 2)
    return seconds


@app.command("create")
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
    from ..admin import keys
    from ..admin.actor import cli_actor

    if scope not in SCOPES:
        fail("--scope: one of user, service, admin", 2)
    key_scope = cast("Scope", scope)
    try:
        keys.default_user(key_scope, user, name)
    except ValueError as missing:
        fail(f"--user: {missing}", 2)
    lifetime = _duration(expires, "--expires")

    async def work(settings: GatewaySettings) -> CreatedKey:
        async with postgres(settings) as runtime:
            return await keys.create(runtime, cli_actor(), key_scope, user, name, lifetime)

    created = run(work)
    expiry = f", expires {when(created.expires_at)} UTC" if created.expires_at else ""
    notes().print(f"{created.scope} key {created.id} for {created.user}{expiry} (shown once):")
    print(created.key)


@app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Every key: id, name, scope, user, created, expires, last used (never the key)."""
    from rich.table import Table

    from ..admin import keys

    async def work(settings: GatewaySettings) -> list[KeyRecord]:
        async with postgres(settings) as runtime:
            return await keys.list_keys(runtime)

    listed = run(work)
    if as_json:
        print(json.dumps([key.model_dump(mode="json") for key in listed], indent=2))
        return
    table = Table(title=f"API keys ({len(listed)})")
    for column in ("ID", "Name", "Scope", "User", "Created", "Expires", "Last used", "State"):
        table.add_column(column, overflow="fold")
    now = time.time()
    for key in listed:
        table.add_row(
            key.id,
            key.name,
            key.scope,
            key.user,
            when(key.created_at),
            when(key.expires_at),
            when(key.last_used_at),
            _state(key, now),
        )
    console().print(table)


def _state(key: KeyRecord, now: float) -> str:
    if key.revoked_at:
        return "revoked"
    if key.expires_at and key.expires_at.timestamp() <= now:
        return "expired"
    return "active"


@app.command("revoke")
def keys_revoke(key_id: KeyId) -> None:
    """Revoke a key: every gateway refuses it within a second."""
    from ..admin import keys
    from ..admin.actor import cli_actor

    async def work(settings: GatewaySettings) -> None:
        async with postgres(settings) as runtime:
            await keys.revoke(runtime, cli_actor(), key_id)

    run(work)
    console().print(f"key {key_id} revoked")


@app.command("rotate")
def keys_rotate(
    key_id: KeyId,
    overlap: Annotated[
        str, typer.Option(help="How long the old key keeps working, e.g. 24h, 0 (at once)")
    ] = DEFAULT_OVERLAP,
) -> None:
    """A new key with the same scope and user; the old one works until the overlap ends."""
    from ..admin import keys
    from ..admin.actor import cli_actor

    seconds = _duration(overlap, "--overlap") or 0.0

    async def work(settings: GatewaySettings) -> CreatedKey:
        async with postgres(settings) as runtime:
            return await keys.rotate(runtime, cli_actor(), key_id, seconds)

    created = run(work)
    notes().print(
        f"key {created.id} replaces {key_id}, which works for {overlap} more (shown once):"
    )
    print(created.key)
