"""One router per domain; app.py includes every router listed here."""

from fastapi import APIRouter

from . import dashboard, health, notifications, ops, payments, sms, tournaments

ROUTERS: list[APIRouter] = [
    health.router,
    ops.router,
    sms.router,
    payments.router,
    tournaments.router,
    notifications.router,
    dashboard.router,
]
