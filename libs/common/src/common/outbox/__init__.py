"""The outbox: jobs staged in `runtime.outbox` in the same transaction as the rows that
cause them, so a write is never left without its jobs, nor a job without its write.

After commit a caller either `send`s them (awaits the confirm: its answer depends on it,
and it may `withdraw` them with its rows when the broker does not confirm) or hands them
to `send_soon` (its request or job stands either way: a background task publishes them at
once, and the caller never waits for RabbitMQ). The sweeper every gateway and worker runs
publishes whatever is left: a crash between commit and publish, an unconfirmed publish.
send_soon and the sweeper lock the rows they publish (SKIP LOCKED), so no two replicas
publish one entry at once; a `send` is over (PUBLISH_TIMEOUT) long before its entries are
old enough to sweep. An entry may still be published twice (a crash after the confirm,
before the delete), always with the same message id, which idempotent consumers absorb.
Modules: entries (what is staged), store (its SQL), publishing (publish and settle),
background (send_soon's task), sweeper, outbox (the Outbox callers use).
"""

from .entries import OutboxEntry
from .outbox import Outbox
from .sweeper import sweep_forever

__all__ = ["Outbox", "OutboxEntry", "sweep_forever"]
