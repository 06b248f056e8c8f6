"""The sms schema's Alembic history (env.py, versions/)."""
