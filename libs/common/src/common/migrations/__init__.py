"""Schema migrations: one Alembic history per Postgres schema (history: where they are and
their heads), brought up to date at every process's start (runner)."""

from .history import RUNTIME, Schema, installed_schemas
from .runner import bring_up_to_date, database_unreachable, migrate, migrate_when_ready, pending

__all__ = [
    "RUNTIME",
    "Schema",
    "bring_up_to_date",
    "database_unreachable",
    "installed_schemas",
    "migrate",
    "migrate_when_ready",
    "pending",
]
