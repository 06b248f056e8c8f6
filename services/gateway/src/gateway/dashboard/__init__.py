"""The Horizon-style dashboard: pages, data, charts, alerts, its log-in."""

from .routes import router

__all__ = ["router"]
