"""Alerts: a queue's oldest job waiting too long, or its failed jobs growing (rules), and
where they go besides the log: a JSON webhook, Slack, e-mail (channels)."""

from .channels import Alert, deliver
from .rules import AlertMonitor

__all__ = ["Alert", "AlertMonitor", "deliver"]
