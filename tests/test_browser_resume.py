"""Resume in a real browser (Chromium through Playwright), through the sandbox and the real app
running as `account-binding run`: the confirm page's "After connecting, … will run" box,
checked with axe-core, ticked by keyboard, and the command's answer back in Slack."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time

from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from test_browser_journeys import (
    PHONE,
    Sandbox,
    accessible,
    browser,
    context,
    log_in,
    open_link,
    run_command,
    sandbox,
)

__all__ = ["browser", "context", "sandbox"]  # the journeys' fixtures, imported for the tests here

INTRO = "The command you ran before connecting"


async def reload_until(page: Page, shown: Locator, seconds: float = 10.0) -> None:
    """Reload the sandbox page (it does not refresh itself) until `shown` is on it."""
    deadline = time.monotonic() + seconds
    while await shown.count() == 0:
        assert time.monotonic() < deadline, f"not shown on {page.url} within {seconds}s"
        await asyncio.sleep(0.25)
        await page.reload()


async def test_a_command_that_changes_data_runs_only_once_ticked(
    context: BrowserContext, sandbox: Sandbox
) -> None:
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0ADA")
    await run_command(slack, "todo add Buy milk & eggs")
    site = await open_link(context, slack)
    await log_in(site, sandbox.password)

    # The page says what will run, and leaves the box unticked: todo add changes data.
    box = site.get_by_role("checkbox", name=re.compile(r"After connecting, .* will run"))
    await expect(box).to_be_visible()
    await expect(box).not_to_be_checked()
    await expect(site.locator("label[for=resume] code")).to_have_text(
        "/acme todo add Buy milk & eggs"
    )
    await expect(site.get_by_text("It changes data in Acme, so it runs only if")).to_be_visible()
    await accessible(site)

    # Ticked with the keyboard: Tab to the box, Space, then on to Connect.
    for _ in range(10):
        await site.keyboard.press("Tab")
        if await box.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("the box cannot be reached with Tab")
    await site.keyboard.press("Space")
    await expect(box).to_be_checked()
    await site.keyboard.press("Tab")
    await expect(site.get_by_role("button", name="Connect")).to_be_focused()
    await site.keyboard.press("Enter")
    await site.wait_for_load_state()
    await expect(site.get_by_role("heading", name="Connected")).to_be_visible()
    await expect(site.get_by_text("is running now: its answer appears in Slack")).to_be_visible()
    await accessible(site)

    # Back in Slack: the answer, saying which command it is.
    await slack.bring_to_front()
    answer = slack.locator("li.message").filter(has_text=INTRO)
    await reload_until(slack, answer)
    await expect(answer).to_have_count(1)
    await expect(answer).to_contain_text("Added")
    await expect(answer).to_contain_text("Buy milk & eggs")
    await accessible(slack)
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT title FROM todos").fetchall() == [("Buy milk & eggs",)]


async def test_a_read_only_command_starts_ticked_and_the_page_fits_a_phone(
    browser: Browser, sandbox: Sandbox
) -> None:
    context = await browser.new_context(viewport=PHONE, is_mobile=True)
    context.set_default_timeout(10_000)
    try:
        slack = await context.new_page()
        await slack.goto(f"{sandbox.slack_url}/?user=U0GRACE")
        await run_command(slack, "todo")
        site = await open_link(context, slack)
        await log_in(site, sandbox.password)
        box = site.get_by_role("checkbox", name=re.compile(r"After connecting, .* will run"))
        await expect(box).to_be_checked()  # `todo` only reads
        await expect(site.get_by_text("It only reads from Acme; untick the box")).to_be_visible()
        overflow = await site.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the confirm page scrolls sideways on a phone by {overflow}px"
        size = await box.bounding_box()
        assert size and size["width"] >= 18 and size["height"] >= 18
        await accessible(site)

        # Unticked, nothing runs.
        await box.uncheck()
        await site.get_by_role("button", name="Connect").click()
        await expect(site.get_by_role("heading", name="Connected")).to_be_visible()
        await expect(site.get_by_text("run your command again")).to_be_visible()
        await accessible(site)
        await slack.bring_to_front()
        await reload_until(slack, slack.get_by_text("Direct message from the app"))
        await expect(slack.get_by_text(INTRO)).to_have_count(0)
    finally:
        await context.close()
