"""The dashboard's headers and cookie, and /docs and /redoc served without a CDN."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi.routing import APIRoute
from gateway.dashboard.routes import router as dashboard_router

from tests.support import ADMIN_KEY, Stack, eventually

pytestmark = pytest.mark.e2e


def test_dashboard_sends_a_strict_csp_no_framing_and_a_strict_secure_cookie(
    stack: Stack,
) -> None:
    stack.start("gateway", DASHBOARD_COOKIE_SECURE="true")
    stack.wait_ready()
    with httpx.Client(base_url=stack.url, timeout=15) as browser:
        form = browser.get("/dashboard/login")
        csp = form.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert form.headers["x-frame-options"] == "DENY"
        assert form.headers["referrer-policy"] == "same-origin"
        login = browser.post("/dashboard/login", data={"key": ADMIN_KEY}, follow_redirects=False)
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
        # The page has no inline script or style for the policy to block.
        page = httpx.get(
            f"{stack.url}/dashboard",
            cookies={"relay_dashboard": login.cookies["relay_dashboard"]},
            timeout=15,
        )
        assert page.status_code == 200
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
        assert " style=" not in page.text and "<style" not in page.text
    with stack.client() as api:
        assert api.get("/v1/notifications").headers["x-frame-options"] == "DENY"


def test_docs_and_redoc_load_their_assets_from_the_gateway(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with httpx.Client(base_url=stack.url, timeout=15) as browser:
        for page in ("/docs", "/redoc"):
            html = browser.get(page)
            assert html.status_code == 200
            assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
            assert assets and all(a.startswith("/") for a in assets), assets
            for asset in assets:
                assert browser.get(asset).status_code == 200, asset
            assert "cdn" not in html.text.lower()


def test_revoking_the_stored_key_ends_its_dashboard_session(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with stack.client(ADMIN_KEY) as admin:
        created = admin.post("/v1/ops/keys", json={"scope": "admin", "name": "ops-lead"}).json()
    with httpx.Client(base_url=stack.url, timeout=15) as browser:
        login = browser.post(
            "/dashboard/login", data={"key": created["key"]}, follow_redirects=True
        )
        assert login.status_code == 200 and "Audit trail" in login.text  # followed to the page
        with stack.client(ADMIN_KEY) as admin:
            assert admin.delete(f"/v1/ops/keys/{created['id']}").status_code == 200
        after = browser.get("/dashboard", follow_redirects=False)
        assert after.status_code == 303 and after.headers["location"] == "/dashboard/login"


def _no_store(answer: httpx.Response) -> bool:
    return "no-store" in answer.headers.get("cache-control", "")


def test_every_dashboard_page_and_partial_is_no_store_logged_in_or_not(stack: Stack) -> None:
    stack.start("gateway")
    stack.wait_ready()
    # Every GET the dashboard serves (its router, so a new page is covered too), with a
    # made-up id where the path has one: a 404 must not be cached either.
    pages = [
        re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)
        for route in dashboard_router.routes
        if isinstance(route, APIRoute)
        and "GET" in route.methods
        and not route.path.startswith("/dashboard/static/")
    ]
    assert {"/dashboard", "/dashboard/login", "/dashboard/sections"} <= set(pages)
    missing: list[str] = []
    with httpx.Client(base_url=stack.url, timeout=15) as browser:
        for page in pages:  # not logged in: the redirect or 401 too
            if page != "/dashboard/stream" and not _no_store(browser.get(page)):
                missing.append(f"anonymous GET {page}")
        refused = browser.post("/dashboard/login", data={"key": "wrong"})
        login = browser.post("/dashboard/login", data={"key": ADMIN_KEY}, follow_redirects=False)
        assert refused.status_code == 401 and login.status_code == 303
        for name, answer in (("failed log-in", refused), ("log-in", login)):
            if not _no_store(answer):
                missing.append(name)
        for page in pages:
            if page == "/dashboard/stream":
                with browser.stream("GET", page) as events:
                    answer = events
            else:
                answer = browser.get(page)
            if not _no_store(answer):
                missing.append(f"GET {page} ({answer.status_code})")
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/dashboard").text)
        assert csrf is not None
        form = browser.post("/dashboard/failed/retry", data={"csrf": csrf.group(1)})
        if not _no_store(form):
            missing.append("form post")
        static = browser.get("/dashboard/static/dashboard.js")
        assert static.status_code == 200 and not _no_store(static)  # a file, cacheable
    assert missing == []


def _login_cookie(stack: Stack, url: str | None = None, **headers: str) -> str:
    with httpx.Client(base_url=url or stack.url, timeout=15) as browser:
        login = browser.post(
            "/dashboard/login", data={"key": ADMIN_KEY}, headers=headers, follow_redirects=False
        )
    assert login.status_code == 303, login.text
    return login.headers["set-cookie"]


def test_the_cookie_is_secure_when_a_trusted_proxy_says_the_request_came_over_https(
    stack: Stack,
) -> None:
    from tests.support.stack import free_port

    stack.start("gateway")  # FORWARDED_ALLOW_IPS defaults to 127.0.0.1: this test's address
    untrusting = free_port()
    stack.start("gateway", replica=2, GATEWAY_PORT=untrusting, FORWARDED_ALLOW_IPS="10.9.8.7")
    stack.wait_ready()
    other = f"http://127.0.0.1:{untrusting}"
    eventually(lambda: httpx.get(f"{other}/readyz", timeout=2).status_code == 200, timeout=60)
    assert "Secure" in _login_cookie(stack, **{"X-Forwarded-Proto": "https"})
    assert "Secure" not in _login_cookie(stack)
    # From an address it does not trust, the header is the client's word only.
    assert "Secure" not in _login_cookie(stack, other, **{"X-Forwarded-Proto": "https"})


WARNING = "dashboard cookie is not Secure"


def test_a_warning_at_start_up_when_the_dashboard_is_served_on_a_non_loopback_address_over_http(
    stack: Stack,
) -> None:
    from tests.support.stack import free_port

    exposed, secured = free_port(), free_port()
    stack.start("gateway")  # 127.0.0.1 only
    stack.start("gateway", replica=2, GATEWAY_HOST="0.0.0.0", GATEWAY_PORT=exposed)
    stack.start(
        "gateway",
        replica=3,
        GATEWAY_HOST="0.0.0.0",
        GATEWAY_PORT=secured,
        DASHBOARD_COOKIE_SECURE="true",
    )
    stack.wait_ready()
    for port in (exposed, secured):
        eventually(
            lambda p=port: httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=2).status_code == 200,
            timeout=60,
        )
    warned = stack.tail("gateway.2", lines=200)
    assert WARNING in warned and "0.0.0.0" in warned and "DASHBOARD_COOKIE_SECURE" in warned
    assert WARNING not in stack.tail("gateway", lines=200)
    assert WARNING not in stack.tail("gateway.3", lines=200)
