"""Retention: what nobody needs any more is deleted, in small batches, without long locks.

Seven kinds of records grow with every job or request; each has a RETENTION_<KIND>_DAYS
setting (fractions allowed; 0 keeps them forever). Every package that owns such records
names its rules under the `relay.retention` entry point group (the runtime's own rules
come first), as it names its migrations: a rule is data, the owner's, and the runtime
runs it. `prune` runs every rule once (`relay prune` by hand); `prune_forever` runs it
every PRUNE_EVERY_SECONDS, once per period across every replica.

A table rule deletes at most PRUNE_BATCH rows per statement, each its own short
transaction, skipping rows another transaction holds (SKIP LOCKED): a prune never blocks
the jobs that write the same tables, and a large backlog is worked off batch by batch.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .lifecycle.pruning import prune_dashboard_records
from .runtime import Runtime
from .scheduling.slots import PeriodicJob, SlotLock
from .topology import Queue

log = logging.getLogger("relay.retention")

ENTRY_POINTS = "relay.retention"

Kind = Literal[
    "processed_messages",
    "idempotency_keys",
    "dashboard_records",
    "attempt_logs",
    "sse_replay",
    "failed_jobs",
    "audit_log",
]


class RetentionSettings(BaseSettings):
    """How long each kind of record is kept, in days (0 = forever), and how pruning runs."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    retention_processed_messages_days: float = Field(default=14, ge=0)
    retention_idempotency_keys_days: float = Field(default=1, ge=0)
    retention_dashboard_records_days: float = Field(default=7, ge=0)
    retention_attempt_logs_days: float = Field(default=30, ge=0)
    retention_sse_replay_days: float = Field(default=30, ge=0)
    retention_failed_jobs_days: float = Field(default=30, ge=0)
    retention_audit_log_days: float = Field(default=365, ge=0)
    prune_every_seconds: float = Field(default=3600, gt=0)
    prune_batch: int = Field(default=1000, ge=1)

    def days(self, kind: Kind) -> float:
        days: float = getattr(self, f"retention_{kind}_days")
        return days


@dataclass(frozen=True)
class TableRule:
    """Rows of `table` whose `column` (a timestamptz) is older than the kind's retention."""

    kind: Kind
    table: str  # schema.table
    column: str
    # An extra SQL condition rows must meet to go (e.g. a state that is final).
    condition: str = "true"

    @property
    def name(self) -> str:
        return self.table

    async def prune(self, runtime: Runtime, cutoff: float, batch: int) -> int:
        deleted = 0
        while True:
            status = await runtime.pool.execute(
                f"""
                DELETE FROM {self.table} WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM {self.table}
                    WHERE {self.column} < to_timestamp($1) AND ({self.condition})
                    LIMIT $2 FOR UPDATE SKIP LOCKED
                ))
                """,
                cutoff,
                batch,
            )
            count = int(status.split()[-1])
            deleted += count
            if count < batch:
                return deleted
            await asyncio.sleep(0.01)  # let the jobs writing this table in between


@dataclass(frozen=True)
class CustomRule:
    """Records kept elsewhere (e.g. Redis): `prune(runtime, cutoff, batch)` deletes them."""

    kind: Kind
    name: str
    prune: Callable[[Runtime, float, int], Awaitable[int]]


Rule = TableRule | CustomRule


def runtime_rules() -> tuple[Rule, ...]:
    """The runtime's own records: processed messages, failed jobs, dashboard records."""
    return (
        TableRule("processed_messages", "runtime.processed_messages", "processed_at"),
        TableRule("failed_jobs", "runtime.failed_jobs", "failed_at"),
        TableRule("audit_log", "runtime.audit_log", "at"),
        CustomRule("dashboard_records", "dashboard records (Redis)", prune_dashboard_records),
    )


@functools.cache
def registered_rules() -> tuple[Rule, ...]:
    """The runtime's rules, then every installed package's (`relay.retention`), by name."""
    found: list[Rule] = []
    for entry in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        rules = entry.load()
        if not all(isinstance(rule, TableRule | CustomRule) for rule in rules):
            raise TypeError(f"entry point {entry.value} is not a sequence of retention rules")
        found.extend(rules)
    return (*runtime_rules(), *found)


@dataclass(frozen=True)
class Pruned:
    rule: str
    kind: Kind
    days: float
    deleted: int
    error: str | None = None


async def prune(
    runtime: Runtime, settings: RetentionSettings, rules: tuple[Rule, ...] | None = None
) -> list[Pruned]:
    """Run every rule once (a rule whose kind is kept forever is skipped)."""
    results: list[Pruned] = []
    for rule in registered_rules() if rules is None else rules:
        days = settings.days(rule.kind)
        if days <= 0:
            continue
        cutoff = time.time() - days * 86_400
        try:
            deleted = await rule.prune(runtime, cutoff, settings.prune_batch)
        except Exception as error:
            log.warning("prune failed", extra={"rule": rule.name, "error": repr(error)})
            results.append(Pruned(rule.name, rule.kind, days, 0, repr(error)))
            continue
        results.append(Pruned(rule.name, rule.kind, days, deleted))
    return results


# The lock that makes a period's prune run on one replica only.
_PRUNE_JOB = "runtime.prune"


async def prune_forever(runtime: Runtime, settings: RetentionSettings | None = None) -> None:
    """Prune every PRUNE_EVERY_SECONDS, once per period across every replica."""
    settings = settings or RetentionSettings()
    job = PeriodicJob(_PRUNE_JOB, Queue(_PRUNE_JOB, ""), settings.prune_every_seconds)
    lock = SlotLock(runtime.redis, runtime.settings.redis_key_prefix)
    while True:
        try:
            if await lock.claim(job) is not None:
                results = await prune(runtime, settings)
                deleted = {r.rule: r.deleted for r in results if r.deleted}
                if deleted:
                    log.info("pruned old records", extra={"deleted": deleted})
        except Exception as error:  # Redis down: try again next period
            log.warning("prune not run", extra={"error": repr(error)})
        await asyncio.sleep(max(0.1, job.next_run(time.time()) - time.time()))
