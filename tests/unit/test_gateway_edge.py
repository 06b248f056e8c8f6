"""Pure rules of the edge: which body limit a request gets, how a Bearer header is read,
which scope may replay what, and what the OpenAPI document says of the limits."""

from __future__ import annotations

import pytest
from common.web import Caller, bearer_key
from gateway.domains import callback_paths, upload_paths
from gateway.http.body_limits import BodyLimits
from gateway.http.openapi import document_errors
from gateway.settings import GatewaySettings

MiB = 1024 * 1024


def test_the_contract_defaults_of_the_body_limits() -> None:
    settings = GatewaySettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.max_body_bytes == 64 * MiB
    assert settings.webhook_max_bytes == 1 * MiB
    assert settings.body_read_timeout == 30


@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [
        ("/v1/webhooks/stripe", "application/json", "webhook"),
        ("/v1/webhooks/monetbil", "application/x-www-form-urlencoded", "webhook"),
        ("/v1/sms/status", "application/json", "webhook"),
        ("/v1/sms/inbound", "application/json", "webhook"),
        # Named by the contract; covered by their prefix before their routes exist.
        ("/v1/sms/twilio/status", "application/x-www-form-urlencoded", "webhook"),
        ("/v1/sms/twilio/inbound", "multipart/form-data; boundary=x", "webhook"),
        ("/v1/campaigns", "text/csv", "upload"),
        ("/v1/campaigns", "Multipart/Form-Data; boundary=x", "upload"),
        ("/v1/images", "multipart/form-data; boundary=x", "upload"),
        ("/v1/campaigns", "application/json", "max_body"),
        # An upload type on a route that does not stream it is no way around the limit.
        ("/v1/sms", "text/csv", "max_body"),
        ("/v1/notifications", "multipart/form-data; boundary=x", "max_body"),
        ("/dashboard/login", "application/x-www-form-urlencoded", "max_body"),
        ("/v1/sms", "", "max_body"),
    ],
)
def test_each_body_gets_the_limit_of_its_path_and_type(
    path: str, content_type: str, limit: str
) -> None:
    limits = BodyLimits(GatewaySettings(), callback_paths(), upload_paths())
    assert limits.limit_for(path, content_type).name == limit


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer k1", "k1"),
        ("bearer k1", "k1"),
        ("BEARER k1", "k1"),
        ("Bearer   k1 ", "k1"),
        ("Bearer\tk1", None),
        ("Bearer:k1", None),
        ("Basic k1", None),
        ("k1", None),
        ("Bearer ", None),
        ("", None),
    ],
)
def test_a_bearer_header_is_read_as_http_allows(header: str, key: str | None) -> None:
    assert bearer_key(header) == key


def test_scopes_are_nested_for_replays() -> None:
    assert Caller("u", "admin").includes("user") and Caller("u", "admin").includes("service")
    assert Caller("u", "service").includes("user") and not Caller("u", "service").includes("admin")
    assert Caller("u", "user").includes("user") and not Caller("u", "user").includes("service")


def test_the_document_states_the_size_and_time_limits() -> None:
    settings = GatewaySettings(max_body_bytes=1000, webhook_max_bytes=10, body_read_timeout=7)
    document = document_errors(
        {"paths": {"/v1/x": {"post": {"responses": {"200": {"description": "ok"}}}}}}, settings
    )
    responses = document["paths"]["/v1/x"]["post"]["responses"]
    assert "1000 bytes" in responses["413"]["description"]
    assert "WEBHOOK_MAX_BYTES (10)" in responses["413"]["description"]
    assert "7 s" in responses["408"]["description"]
