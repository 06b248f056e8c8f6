"""The sms domain: single sends and campaigns, from the HTTP API (api/) through the jobs on
the wire (contracts.py) and the worker (jobs.py) to its schema (store.py, migrations/)."""
