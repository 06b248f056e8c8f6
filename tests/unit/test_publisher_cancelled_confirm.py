"""A confirm cancelled under a publish (its connection closed) is broker trouble, a 503,
never an escaping CancelledError (a 500); a publish whose own task is cancelled still
stops as cancelled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from common.errors import BrokerUnavailable
from common.publisher import Publisher
from common.settings import RuntimeSettings
from pamqp.commands import Basic


class _ClosingChannel:
    """An aiormq channel whose connection closes while the confirm is awaited."""

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold

    async def basic_publish(self, *args: Any, **kwargs: Any) -> None:
        if self.hold:
            await asyncio.sleep(self.hold)
        raise asyncio.CancelledError


def _publisher(channel: _ClosingChannel) -> Publisher:
    publisher = Publisher(RuntimeSettings(publish_timeout=2))

    async def underlay() -> Any:
        return channel

    publisher._underlay = underlay  # type: ignore[method-assign]
    return publisher


async def test_a_confirm_cancelled_by_a_closing_connection_is_broker_unavailable() -> None:
    publisher = _publisher(_ClosingChannel())
    with pytest.raises(BrokerUnavailable):
        await publisher.publish_body("sms", "sms.send", b"{}", Basic.Properties())


async def test_a_cancelled_publishing_task_stays_cancelled() -> None:
    publisher = _publisher(_ClosingChannel(hold=5))
    task = asyncio.create_task(publisher.publish_body("sms", "sms.send", b"{}", Basic.Properties()))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
