"""The http and twilio provider clients against real sockets: the fake provider and a
closed port. Each answer lands in the contract's class: sent, transient or permanent."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sms.providers import (
    OutgoingSms,
    PermanentProviderError,
    TransientProviderError,
)
from sms.providers.http import HttpProvider
from sms.providers.twilio import TwilioProvider

from tests.fakes.sms_provider import FakeProvider
from tests.support.stack import free_port

TO = "+24177750737"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
async def http(fake: FakeProvider) -> AsyncIterator[HttpProvider]:
    provider = HttpProvider(fake.url, timeout=0.5, max_connections=10)
    yield provider
    await provider.close()


def outgoing(body: str = "hello") -> OutgoingSms:
    return OutgoingSms(uuid.uuid4(), TO, "Relay", body)


async def test_2xx_is_sent_with_the_idempotency_key_and_the_provider_id(
    http: HttpProvider, fake: FakeProvider
) -> None:
    sms = outgoing("Votre code: 1234")
    accepted = await http.send(sms)
    [call] = fake.calls_for(str(sms.id))
    assert call["headers"]["idempotency-key"] == str(sms.id)
    assert (call["to"], call["from"], call["body"]) == (TO, "Relay", "Votre code: 1234")
    assert accepted.provider_id == fake.deliveries[str(sms.id)].provider_id
    assert accepted.answer.startswith("200 ")


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_429_and_5xx_are_transient(
    http: HttpProvider, fake: FakeProvider, status: int
) -> None:
    fake.fail_next(status)
    with pytest.raises(TransientProviderError, match=str(status)):
        await http.send(outgoing())


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_other_4xx_are_permanent(http: HttpProvider, fake: FakeProvider, status: int) -> None:
    fake.refuse(TO, status)
    with pytest.raises(PermanentProviderError, match=str(status)):
        await http.send(outgoing())


async def test_a_timeout_is_transient(http: HttpProvider, fake: FakeProvider) -> None:
    fake.state.latency = 2.0
    with pytest.raises(TransientProviderError, match="timeout"):
        await http.send(outgoing())


async def test_waiting_for_a_pooled_connection_is_not_a_timeout(fake: FakeProvider) -> None:
    # One connection, 0.3 s per answer, 0.5 s timeout: the third message waits 0.6 s for
    # the connection, but the provider answers each within the timeout.
    fake.state.latency = 0.3
    provider = HttpProvider(fake.url, timeout=0.5, max_connections=1)
    try:
        accepted = await asyncio.gather(*(provider.send(outgoing()) for _ in range(3)))
    finally:
        await provider.close()
    assert len(accepted) == 3 and len(fake.deliveries) == 3


async def test_a_closed_port_is_transient() -> None:
    provider = HttpProvider(f"http://127.0.0.1:{free_port()}/sms", timeout=2, max_connections=1)
    try:
        with pytest.raises(TransientProviderError, match="connection error"):
            await provider.send(outgoing())
    finally:
        await provider.close()


async def test_twilio_posts_the_form_with_basic_auth_and_reads_the_sid(
    fake: FakeProvider,
) -> None:
    provider = TwilioProvider(
        fake.base_url, "AC123", "secret", timeout=2, max_connections=2, status_callback=""
    )
    try:
        accepted = await provider.send(outgoing("via twilio"))
    finally:
        await provider.close()
    [call] = fake.state.calls
    assert call["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert call["headers"]["authorization"] == "Basic " + base64.b64encode(b"AC123:secret").decode()
    assert (call["to"], call["body"]) == (TO, "via twilio")
    assert accepted.provider_id is not None and accepted.provider_id.startswith("fake-")
