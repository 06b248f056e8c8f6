"""The dashboard in headless Chromium against the real stack.

Log in, watch a queue's depth move live while a worker drains it, open a failed job,
press Retry and see it processed; pause, clear (with its confirmation) and continue a
queue; read a job's page. Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

import pytest
import redis
from common.envelope import Envelope

from tests.e2e.ops_support import DEMO, Demo, broken_flag, start_demo_worker
from tests.support import ADMIN_KEY
from tests.support.stack import ARTIFACTS

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium_path() -> str:
    if shutil.which(CHROMIUM) is None:
        message = f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return CHROMIUM


async def test_operator_watches_depth_drain_and_retries_a_failed_job_in_the_browser(
    stack: Any, runtime_factory: Any, env: dict[str, Any], chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    stack.start("gateway", DASHBOARD_REFRESH_SECONDS="0.5")
    stack.wait_ready()
    runtime = await runtime_factory([DEMO])
    flags = redis.Redis.from_url(env["REDIS_URL"])
    flags.set(broken_flag(runtime.settings), "1")
    # No worker yet: the jobs wait in the queue.
    for n in range(40):
        await runtime.publisher.publish(DEMO, Demo(n=n, sleep=0.05, campaign_id="c-42"))
    broken_id = await runtime.publisher.publish(DEMO, Demo(n=99, fail=True))

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1600})
        try:
            await page.goto(f"{stack.url}/dashboard")
            assert page.url.endswith("/dashboard/login")
            await page.fill("#key", ADMIN_KEY)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{stack.url}/dashboard")
            assert ADMIN_KEY not in page.url

            ready = page.locator('tr[data-queue="ops.demo"] td.ready')
            await expect(ready).to_have_text("41", timeout=20_000)
            # Marks this page load: if it survives, later changes came without a reload.
            await page.evaluate("window.sameLoad = true")

            start_demo_worker(stack, WORKER_MIN_CONCURRENCY="2", AUTOSCALE_INTERVAL="0.5")
            await expect(ready).to_have_text("0", timeout=60_000)
            failed_link = page.locator("#failed a.open-failed")
            await expect(failed_link).to_have_count(1, timeout=30_000)
            assert await page.evaluate("window.sameLoad === true"), "the page reloaded"
            await expect(page.locator("#workers")).to_contain_text("opsdemo", timeout=20_000)
            await expect(page.locator("#recent")).to_contain_text("campaign:c-42")

            await failed_link.click()
            await expect(page.locator("#payload")).to_contain_text('"fail": true')
            await expect(page.locator("#traceback")).to_contain_text("Permanent")
            flags.delete(broken_flag(runtime.settings))  # the "provider" is fixed
            await page.click("#retry")
            await page.wait_for_url(f"{stack.url}/dashboard#failed")
            await expect(page.locator("#failed")).to_contain_text("no failed jobs", timeout=30_000)

            # The retried job, found by its message id, is processed (live, no reload).
            await page.goto(f"{stack.url}/dashboard?q={broken_id}")
            await expect(page.locator("#recent .badge")).to_have_text("done", timeout=30_000)

            await page.goto(f"{stack.url}/dashboard")
            await expect(page.locator("#charts svg rect").first).to_be_attached()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            await browser.close()
            flags.close()


async def test_operator_pauses_continues_clears_a_queue_and_opens_a_job_page_in_the_browser(
    stack: Any, runtime_factory: Any, env: dict[str, Any], chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    stack.start("gateway", DASHBOARD_REFRESH_SECONDS="0.5")
    start_demo_worker(stack, OTEL_TRACES_EXPORTER="memory")
    stack.wait_ready()
    stack.wait_consuming(DEMO.name)
    runtime = await runtime_factory([DEMO])
    flags = redis.Redis.from_url(env["REDIS_URL"])
    flags.set(broken_flag(runtime.settings), "1")
    broken_id = await runtime.publisher.publish(
        DEMO, Demo(n=7, fail=True, campaign_id="c-7"), envelope=Envelope(user_id="u-9")
    )

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1600})
        try:
            await page.goto(f"{stack.url}/dashboard/login")
            await page.fill("#key", ADMIN_KEY)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{stack.url}/dashboard")
            row = page.locator('tr[data-queue="ops.demo"]')
            ready = row.locator("td.ready")

            # Pause: the worker stops taking jobs; they wait in RabbitMQ.
            await row.locator("button.pause").click()
            await page.wait_for_url(f"{stack.url}/dashboard#queues")
            await expect(row.locator("td.state")).to_have_text("paused", timeout=20_000)
            for n in range(6):
                await runtime.publisher.publish(DEMO, Demo(n=n))
            await expect(ready).to_have_text("6", timeout=30_000)

            # Clear asks first: dismissed, nothing is deleted; accepted, the queue empties.
            page.once("dialog", lambda dialog: dialog.dismiss())
            await row.locator("button.clear").click()
            await expect(ready).to_have_text("6")
            page.once("dialog", lambda dialog: dialog.accept())
            await row.locator("button.clear").click()
            await page.wait_for_url(f"{stack.url}/dashboard#queues")
            await expect(ready).to_have_text("0", timeout=30_000)

            # Continue: jobs published now are taken again.
            for n in range(3):
                await runtime.publisher.publish(DEMO, Demo(n=100 + n))
            await expect(ready).to_have_text("3", timeout=30_000)
            await row.locator("button.continue").click()
            await expect(row.locator("td.state")).to_have_text("running", timeout=20_000)
            await expect(ready).to_have_text("0", timeout=30_000)

            # The failed job's page: payload, attempts with the error, trace, retry.
            await page.goto(f"{stack.url}/dashboard/jobs/{broken_id}")
            await expect(page.locator("#outcome")).to_have_text("failed")
            await expect(page.locator("#payload")).to_contain_text('"campaign_id": "c-7"')
            await expect(page.locator("#headers")).to_contain_text("x-user-id")
            await expect(page.locator("#attempts")).to_contain_text("rejected by the provider")
            await expect(page.locator("#trace")).to_contain_text(re.compile("[0-9a-f]{32}"))
            await expect(page.locator("#spans")).to_contain_text(f"consume {DEMO.name}")
            flags.delete(broken_flag(runtime.settings))
            await page.click("#retry")
            await page.wait_for_url(f"{stack.url}/dashboard#failed")
            await page.goto(f"{stack.url}/dashboard/jobs/{broken_id}")
            for _ in range(60):  # the page is not live: reload until the retry is recorded
                if await page.locator("#outcome").text_content() == "done":
                    break
                await page.wait_for_timeout(500)
                await page.reload()
            await expect(page.locator("#outcome")).to_have_text("done")
            await expect(page.locator("#attempts tbody tr")).to_have_count(2)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard-job.png"), full_page=True)
        finally:
            await browser.close()
            flags.close()
