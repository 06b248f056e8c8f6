"""The payments schema's Alembic history (env.py, versions/)."""
