"""The HTTP edge: error answers, Idempotency-Key, request metrics and spans."""
