"""The tournaments schema's Alembic history (env.py, versions/)."""
