"""The notifications domain: in-app notifications, their live stream and image jobs, from the
HTTP API (api/) through the jobs (contracts.py, jobs.py) to its schema (store.py, migrations/)."""
