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
relay --version                    the installed release
relay --compose COMMAND            run COMMAND against the compose stack running here

One sub-app per concern (failed.py, queues.py, keys.py, top.py, audit.py, prune.py; the
shared plumbing in running.py). A command reads its options, calls the `gateway.admin`
function the ops API and the dashboard call, and prints the answer. The runtime, httpx,
asyncpg and rich's Live are imported inside the commands, so `relay --help` stays quick.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import audit, failed, keys, prune, queues, top
from .running import use_the_compose_stack

app = typer.Typer(
    help="Relay: jobs on RabbitMQ, with the Laravel queue runbook.", no_args_is_help=True
)
# Top-level commands: `relay queues`, `relay terminate`, `relay top`, `relay audit`, `relay prune`.
for commands in (queues.app, top.app, audit.app, prune.app):
    app.add_typer(commands)
app.add_typer(failed.app, name="failed")
app.add_typer(keys.app, name="keys")
app.add_typer(queues.queue_app, name="queue")


def _print_version(wanted: bool) -> None:
    if wanted:
        from common.version import release_version

        print(release_version())
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed release and exit.",
        ),
    ] = False,
    compose: Annotated[
        bool,
        typer.Option(
            "--compose",
            help="Use the database, broker and Redis of the compose stack running here "
            "(docker compose), not DATABASE_URL / RABBITMQ_URL / REDIS_URL.",
        ),
    ] = False,
) -> None:
    if compose:
        use_the_compose_stack()


__all__ = ["app"]
