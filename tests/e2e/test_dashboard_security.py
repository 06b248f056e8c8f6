"""The dashboard's headers and cookie, and /docs and /redoc served without a CDN."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import ADMIN_KEY, Stack

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
