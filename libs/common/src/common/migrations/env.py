"""The shared Alembic environment: each schema's env.py calls `run()`."""

from __future__ import annotations

from alembic import context


def run() -> None:
    config = context.config
    connection = config.attributes["connection"]
    schema = config.attributes["schema"]
    context.configure(
        connection=connection,
        version_table_schema=schema,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
