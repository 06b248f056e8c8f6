"""The tournaments domain: tournaments, players and matches (api/), the periodic jobs and
e-mails (contracts.py, scheduler.py, jobs.py) and its schema (store.py, migrations/)."""
