"""Alembic migrations, one script location per Postgres schema."""
