"""Pure rules of who may do what: scopes, durations, the documented errors, page policies."""

from __future__ import annotations

import pytest
from common.web import Caller
from gateway.admin.keys import default_user
from gateway.auth.keys import hash_key, new_key, new_key_id, parse_duration
from gateway.http.openapi import document_errors, errors_for
from gateway.http.security import API_CSP, DASHBOARD_CSP, DOCS_CSP, policy_for
from gateway.ops.keys import NewKey
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("scope", "own", "other"),
    [("user", True, False), ("service", True, True), ("admin", True, True)],
)
def test_only_a_user_key_is_held_to_its_own_user(scope: str, own: bool, other: bool) -> None:
    caller = Caller("u1", scope)  # type: ignore[arg-type]
    assert caller.may_act_for("u1") is own
    assert caller.may_act_for("u2") is other
    assert caller.admin is (scope == "admin")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400),
        ("24h", 86400),
        ("15m", 900),
        ("90s", 90),
        ("3600", 3600),
        ("1w", 604800),
    ],
)
def test_durations_read_like_the_cli_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-1d", "1y", "", "d"])
def test_a_duration_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_key_shows_its_id_and_is_stored_only_as_a_hash() -> None:
    key_id = new_key_id()
    key = new_key(key_id)
    assert key.startswith(f"rk_{key_id}_") and len(key) > 40
    assert hash_key(key) != key and len(hash_key(key)) == 64
    assert new_key(key_id) != key


def test_a_user_key_needs_its_user_and_others_get_a_default() -> None:
    with pytest.raises(ValidationError):
        NewKey(scope="user")
    assert default_user("service", None, "hr") == "service:hr"
    assert default_user("admin", None, "") == "admin"
    assert default_user("service", "backend", "hr") == "backend"
    with pytest.raises(ValueError, match="needs the user"):
        default_user("user", None, "hr")


def test_every_api_operation_declares_the_errors_the_edge_can_answer() -> None:
    assert set(errors_for("/v1/sms/{sms_id}", "get", {})) == {
        "401",
        "403",
        "404",
        "422",
        "429",
        "503",
    }
    assert {"409", "413"} <= set(errors_for("/v1/sms", "post", {}))
    assert errors_for("/healthz", "get", {}) == []
    document = document_errors(
        {"paths": {"/v1/x": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    )
    responses = document["paths"]["/v1/x"]["get"]["responses"]
    assert (
        "Retry-After" in responses["429"]["headers"]
        and "Retry-After" in responses["503"]["headers"]
    )
    assert document["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"] == {
        "type": "string",
        "title": "Detail",
        "description": "the first problem, as `field: message`",
    }


def test_each_kind_of_page_gets_its_policy() -> None:
    assert policy_for("/dashboard") == policy_for("/dashboard/login") == DASHBOARD_CSP
    assert policy_for("/docs") == policy_for("/redoc") == DOCS_CSP
    assert policy_for("/v1/sms") == API_CSP
    assert "unsafe-inline" not in DASHBOARD_CSP and "http" not in DOCS_CSP


def test_an_escaped_nul_is_found_but_an_escaped_backslash_before_u0000_is_text() -> None:
    from gateway.http.nul_text import holds_nul

    assert holds_nul(b'{"title": "a\\u0000b"}')
    assert holds_nul(b'{"t": "\\\\\\u0000"}')  # an escaped backslash, then a NUL
    assert not holds_nul(b'{"title": "a\\\\u0000b"}')  # the six characters \u0000
    assert not holds_nul(b'{"title": "plain"}')
