"""The edge: the FastAPI app that mounts each domain's api, keys, Idempotency-Key, errors,
health, HTTP metrics, the ops API, the dashboard and the `relay` CLI. No domain's SQL here."""
