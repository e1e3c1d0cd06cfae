"""Never a dead button, in a real browser: the expired-link page's "Send me a new link in
Slack", through the sandbox page and the real app running as `account-binding run`, each page
checked with axe-core (see test_browser_journeys)."""

from __future__ import annotations

import re
import sqlite3

from playwright.async_api import BrowserContext, expect
from test_browser_journeys import (
    Sandbox,
    accessible,
    browser,
    context,
    log_in,
    run_command,
    sandbox,
    screenshot,
)

__all__ = ["browser", "context", "sandbox"]  # the fixtures, imported for the test here

CONNECT = re.compile("Connect your Acme account")


async def test_an_expired_link_sends_a_new_one_to_slack(
    context: BrowserContext, sandbox: Sandbox
) -> None:
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0ALAN")
    await run_command(slack, "link")
    old = await slack.get_by_role("link", name=CONNECT).last.get_attribute("href")
    assert old
    with sqlite3.connect(sandbox.database) as db:
        db.execute("UPDATE binding_requests SET expires_at = 1 WHERE used_at IS NULL")

    # The old link, opened late and not logged in: the page offers a new one in Slack.
    site = await context.new_page()
    response = await site.goto(old)
    assert response and response.status == 410
    await expect(site.get_by_role("heading", name="Link expired")).to_be_visible()
    button = site.get_by_role("button", name="Send me a new link in Slack")
    await expect(button).to_be_visible()
    await screenshot(site, "link-expired")
    await accessible(site)

    # Pressed by keyboard: the new link goes to Slack, never to this page.
    await button.focus()
    await site.keyboard.press("Enter")
    await site.wait_for_load_state()
    await expect(site.get_by_role("heading", name="New link sent")).to_be_visible()
    await expect(site.get_by_role("status")).to_contain_text("direct message from the Acme app")
    assert await site.locator("a[href*='/bind/']").count() == 0
    await accessible(site)

    # The old link, opened again: it says a newer one was sent, and offers nothing more.
    response = await site.goto(old)
    assert response and response.status == 410
    await expect(site.get_by_role("heading", name="A newer link was sent")).to_be_visible()
    await expect(site.get_by_role("button", name="Send me a new link in Slack")).to_have_count(0)
    await accessible(site)

    # In Slack, the DM holds a new link, which binds.
    await slack.reload()
    await expect(slack.get_by_text("Direct message from the app").last).to_be_visible()
    fresh = await slack.get_by_role("link", name=CONNECT).last.get_attribute("href")
    assert fresh and fresh != old
    async with context.expect_page() as opened:
        await slack.get_by_role("link", name=CONNECT).last.click()
    connect = await opened.value
    await connect.wait_for_load_state()
    await log_in(connect, sandbox.password)
    await connect.get_by_role("button", name="Connect").click()
    await expect(connect.get_by_role("heading", name="Connected")).to_be_visible()
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT slack_user_id FROM bindings").fetchall() == [("U0ALAN",)]
