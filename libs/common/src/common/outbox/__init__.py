"""The outbox: jobs staged in `runtime.outbox` in the same transaction as the rows that
cause them, so a write is never left without its jobs, nor a job without its write.

After commit a caller either `send`s them (awaits the confirm: its answer depends on it,
and it may `withdraw` them with its rows when the broker does not confirm), or staged them
`by_relay` and goes on: the relay a worker runs, woken by the commit's NOTIFY, publishes
them at once (the caller never waits for RabbitMQ). The sweeper every gateway and worker
runs publishes whatever is left: a crash between commit and publish, an unconfirmed
publish, relayed entries when no relay runs. Relays and sweepers lock the rows they
publish (SKIP LOCKED), so no two processes publish one entry at once; a `send` is over
(PUBLISH_TIMEOUT) long before its entries are old enough to sweep. An entry may still be
published twice (a crash after the confirm, before the delete), always with the same
message id, which idempotent consumers absorb.
Modules: entries (what is staged), store (its SQL), publishing (publish and settle),
relay, sweeper, outbox (the Outbox callers use).
"""

from .entries import OutboxEntry
from .outbox import Outbox
from .relay import OutboxRelay
from .sweeper import sweep_forever

__all__ = ["Outbox", "OutboxEntry", "OutboxRelay", "sweep_forever"]
