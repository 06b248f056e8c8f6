"""The payments domain: Stripe and Monetbil webhooks, from the HTTP API (api/) through the jobs
on the wire (contracts.py) and the worker (jobs.py) to its schema (store.py, migrations/)."""
