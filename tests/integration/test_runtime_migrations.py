"""Migrations at start-up: waited for while Postgres is unreachable, fatal when they fail."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from common.migrations import Schema, migrate_when_ready
from sqlalchemy.exc import ProgrammingError

from tests.support.proxy import proxied

ROOT = Path(__file__).resolve().parents[2]


def migrations_folder(root: Path, sql: str) -> Path:
    """An Alembic folder with one revision that runs `sql` (the shared env.py)."""
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text("from common.migrations.env import run\n\nrun()\n")
    (root / "versions" / "0001_only.py").write_text(
        "from alembic import op\n\n"
        'revision = "only_0001"\n'
        "down_revision = None\n\n\n"
        "def upgrade() -> None:\n"
        f"    op.execute({sql!r})\n"
    )
    return root


def a_schema(root: Path, sql: str) -> Schema:
    name = f"t_{uuid.uuid4().hex[:10]}"
    return Schema(name, migrations_folder(root, sql.format(schema=name)))


async def test_a_failing_migration_raises_its_sql_error_at_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    broken = a_schema(tmp_path / "broken", "CREATE TABLE {schema}.t (id int REFERENCES nowhere)")
    started = asyncio.get_running_loop().time()
    with pytest.raises(ProgrammingError, match="nowhere"):
        await asyncio.wait_for(migrate_when_ready(fresh_database_url, [broken]), 30)
    # Not retried with backoff: the error comes back as soon as the server refused it.
    assert asyncio.get_running_loop().time() - started < 5
    # The advisory lock was released with it: the next migration runs.
    good = a_schema(tmp_path / "good", "CREATE TABLE {schema}.t (id int)")
    await asyncio.wait_for(migrate_when_ready(fresh_database_url, [good]), 30)
    connection = await asyncpg.connect(fresh_database_url)
    try:
        assert await connection.fetchval(f'SELECT count(*) FROM "{good.name}".t') == 0
        assert not await connection.fetchval(
            "SELECT exists(SELECT 1 FROM pg_tables WHERE schemaname = $1)", broken.name
        )
    finally:
        await connection.close()


async def test_migration_waits_while_postgres_is_unreachable_then_runs(
    fresh_database_url: str, tmp_path: Path
) -> None:
    schema = a_schema(tmp_path / "waits", "CREATE TABLE {schema}.t (id int)")
    with proxied(fresh_database_url, 5432) as proxy:
        proxy.cut()
        migrating = asyncio.create_task(migrate_when_ready(proxy.url(fresh_database_url), [schema]))
        # Several connection attempts fail meanwhile (backoff from 0.2 s); none is fatal.
        await asyncio.sleep(2)
        assert not migrating.done(), migrating
        proxy.restore()
        await asyncio.wait_for(migrating, 30)
    connection = await asyncpg.connect(fresh_database_url)
    try:
        assert await connection.fetchval(f'SELECT count(*) FROM "{schema.name}".t') == 0
    finally:
        await connection.close()


def test_a_worker_whose_migration_fails_exits_non_zero_with_the_error(
    env: dict[str, Any],
) -> None:
    async def occupy() -> None:
        # The table the runtime's first migration creates, there already and different:
        # its CREATE TABLE fails on a server that answers.
        connection = await asyncpg.connect(env["DATABASE_URL"])
        try:
            await connection.execute(
                "CREATE SCHEMA runtime; CREATE TABLE runtime.failed_jobs (x int)"
            )
        finally:
            await connection.close()

    asyncio.run(occupy())
    done = subprocess.run(
        [sys.executable, "-m", "payments"],
        env={**os.environ, **env, "METRICS_PORT": "0"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert 'relation "failed_jobs" already exists' in done.stderr, done.stderr[-3000:]
    assert "migration failed; stopping" in done.stderr


async def test_an_up_to_date_database_is_checked_without_alembic_and_a_newer_one_left_alone(
    fresh_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schema = a_schema(tmp_path / "current", "CREATE TABLE {schema}.t (id int)")
    await migrate_when_ready(fresh_database_url, [schema])
    probe = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from common.migrations import Schema, migrate_when_ready\n"
        f"schema = Schema({schema.name!r}, Path({str(schema.location)!r}))\n"
        f"asyncio.run(migrate_when_ready({fresh_database_url!r}, [schema]))\n"
        "print('alembic' in sys.modules)\n"
    )
    checked = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and checked.stdout.strip() == "False", checked.stderr

    # A newer release migrated it to a revision this code has never seen: left as it is.
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await connection.execute(
            f'UPDATE "{schema.name}".alembic_version SET version_num = $1', "future_0099"
        )
    finally:
        await connection.close()
    await migrate_when_ready(fresh_database_url, [schema])
    assert any("newer release" in record.getMessage() for record in caplog.records)
