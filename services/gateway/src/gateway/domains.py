"""The domains this gateway serves: each one's router and the sections it adds to ops."""

from __future__ import annotations

from common.web import DomainApi, PanelAction, Section
from notifications.api import api as notifications
from payments.api import api as payments
from sms.api import api as sms
from tournaments.api import api as tournaments

DOMAINS: tuple[DomainApi, ...] = (sms, payments, tournaments, notifications)


def queue_sections() -> dict[str, Section]:
    """Extra keys of GET /v1/ops/queues, from every domain."""
    return {name: section for d in DOMAINS for name, section in d.queue_sections.items()}


def dashboard_panels() -> dict[str, Section]:
    """Extra dashboard panels, from every domain, in mounting order."""
    return {name: panel for d in DOMAINS for name, panel in d.dashboard_panels.items()}


def dashboard_actions() -> dict[str, PanelAction]:
    """The buttons of those panels, by panel name."""
    return {name: action for d in DOMAINS for name, action in d.dashboard_actions.items()}


def callback_paths() -> tuple[str, ...]:
    """Path prefixes providers call back on, from every domain."""
    return tuple(path for d in DOMAINS for path in d.callback_paths)


def upload_paths() -> frozenset[str]:
    """Paths that stream CSV or multipart uploads under their own limits."""
    return frozenset(path for d in DOMAINS for path in d.upload_paths)
