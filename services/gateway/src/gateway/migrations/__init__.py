"""The gateway schema's Alembic history: API keys. (Idempotency-Key records live in Redis,
with their TTL: gateway/http/idempotency_records.py.)"""
