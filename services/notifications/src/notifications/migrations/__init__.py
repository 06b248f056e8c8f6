"""The notifications schema's Alembic history (env.py, versions/)."""
