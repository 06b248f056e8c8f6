"""A domain panel's dashboard button (pause, resume, cancel a campaign...): the domain
decides what it does (its `dashboard_actions`); this records it as `<panel>.<verb>`."""

from __future__ import annotations

from common.errors import NotFound
from common.runtime import Runtime

from ..domains import dashboard_actions
from .actor import Actor, record

# The audit name of a panel's button: `campaigns.pause`, `campaigns.cancel`...
PANEL_ACTION = "{panel}.{verb}"


async def press(runtime: Runtime, actor: Actor, panel: str, item: str, verb: str) -> None:
    """Run `verb` on the panel's row `item`. NotFound for a panel without buttons; the
    domain raises NotFound / Conflict / ValueError like a route would."""
    action = dashboard_actions().get(panel)
    if action is None:
        raise NotFound(f"no dashboard panel {panel!r} with actions")
    await action(runtime, item, verb)
    await record(runtime.audit, actor, PANEL_ACTION.format(panel=panel, verb=verb), item)
