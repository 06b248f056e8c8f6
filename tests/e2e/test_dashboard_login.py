"""The dashboard's admin log-in: a form, a session cookie, never the key in a URL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import ADMIN_KEY, USER_KEY


def _login(stack: Any, key: str) -> httpx.Response:
    with httpx.Client(base_url=stack.url, timeout=15) as client:
        return client.post("/dashboard/login", data={"key": key}, follow_redirects=False)


def test_dashboard_needs_an_admin_login_kept_in_an_httponly_session_cookie(stack: Any) -> None:
    stack.start("gateway")
    stack.wait_ready()
    with httpx.Client(base_url=stack.url, timeout=15) as anonymous:
        redirect = anonymous.get("/dashboard", follow_redirects=False)
        assert redirect.status_code == 303 and redirect.headers["location"] == "/dashboard/login"
        assert anonymous.get("/dashboard/sections").status_code == 401
        assert "Admin key" in anonymous.get("/dashboard/login").text

    unknown, not_admin = _login(stack, "nope"), _login(stack, USER_KEY)
    assert unknown.status_code == 401 and "unknown key" in unknown.text
    assert not_admin.status_code == 403 and "not an admin key" in not_admin.text
    assert "set-cookie" not in unknown.headers and "set-cookie" not in not_admin.headers

    admin = _login(stack, ADMIN_KEY)
    assert admin.status_code == 303 and admin.headers["location"] == "/dashboard"
    cookie = admin.headers["set-cookie"]
    assert cookie.startswith("relay_dashboard=") and ADMIN_KEY not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie

    with httpx.Client(base_url=stack.url, timeout=15, cookies=admin.cookies) as browser:
        page = browser.get("/dashboard")
        assert page.status_code == 200 and "Queues" in page.text and "Failed jobs" in page.text
        assert ADMIN_KEY not in page.text
        assert set(browser.get("/dashboard/sections").json()) >= {"queues", "failed", "charts"}
        # A form post without the session's CSRF token is refused.
        assert browser.post("/dashboard/failed/retry", data={}).status_code == 403
        assert browser.post("/dashboard/logout", follow_redirects=False).status_code == 303
    with httpx.Client(base_url=stack.url, timeout=15, cookies=admin.cookies) as after:
        assert after.get("/dashboard", follow_redirects=False).status_code == 303
