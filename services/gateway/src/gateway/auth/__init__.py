"""API keys: who is calling, and what a key may do."""
