"""Admin actions, each written once: one async function per action that does the work and
records it in the audit trail, its audit name a constant beside it. The ops API
(`gateway/ops`), the dashboard's forms (`gateway/dashboard`) and `relay` (`gateway/cli`)
only read their input, call the function and render its answer.

actor.py        who acts and from where; the one writer of audit records
failed_jobs.py  the failed-job runbook: list (unparking first), retry, retry all, forget, flush
queue_stats.py  queue depths, rates, pause state and waits (read only, not audited)
queues.py       queue control: pause, continue, clear, terminate every worker
keys.py         API keys: create, list, revoke, rotate
tags.py         monitored tags: monitor, stop monitoring
panels.py       a domain panel's dashboard button (pause a campaign...)
logins.py       dashboard log-ins and refused log-ins (recorded, not actions)
"""
