"""Throughput/latency benchmark: our runtime vs raw aio-pika, Celery and Dramatiq.

Run from the repo root: ``python -m bench --n 20000 --runs 3 --only raw,celery,dramatiq``.
"""
