"""The gateway schema's Alembic history: API keys and idempotency records."""
