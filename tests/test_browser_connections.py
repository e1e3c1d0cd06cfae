"""The "Connected Slack accounts" page in Chromium (issue 10), through the sandbox and the real
app as `account-binding run`, at the plain-http, non-localhost origin of the other journeys:
the list, Remove's confirmation, the result, and the empty list; axe-core on each, on a
desktop and on a phone."""

from __future__ import annotations

import re
import sqlite3

from playwright.async_api import Browser, BrowserContext, Page, expect
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
    screenshot,
)

__all__ = ["browser", "context", "sandbox"]  # the fixtures these journeys use


async def connect(context: BrowserContext, sandbox: Sandbox, slack_user: str) -> Page:
    """`slack_user` connects to the demo account through the sandbox; the success page."""
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user={slack_user}")
    await run_command(slack, "link")
    site = await open_link(context, slack)
    await log_in(site, sandbox.password)
    await site.get_by_role("button", name="Connect").click()
    await expect(site.get_by_role("heading", name="Connected")).to_be_visible()
    return site


async def fits(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


async def test_list_confirm_remove_and_the_empty_list(
    context: BrowserContext, sandbox: Sandbox
) -> None:
    site = await connect(context, sandbox, "U0ADA")
    await connect(context, sandbox, "U0GRACE")
    await site.bring_to_front()

    # From the success page to the list: both Slack accounts, with their workspace and times.
    await site.get_by_role("link", name="Connected Slack accounts").click()
    await expect(site.get_by_role("heading", name="Connected Slack accounts")).to_be_visible()
    ada = site.get_by_role("listitem").filter(has_text="Ada Lovelace")
    await expect(ada).to_contain_text("U0ADA")
    await expect(ada).to_contain_text("T0SANDBOX")
    await expect(ada).to_contain_text("Not used yet")
    await expect(site.get_by_role("listitem").filter(has_text="Grace Hopper")).to_be_visible()
    await screenshot(site, "connections")
    await accessible(site)
    await fits(site)

    # Remove… asks first; Cancel goes back and removes nothing.
    await ada.get_by_role("link", name=re.compile("^Remove… Ada Lovelace")).click()
    await expect(site.get_by_role("heading", name="Remove this Slack account?")).to_be_visible()
    await expect(site.get_by_text("U0ADA")).to_be_visible()
    await screenshot(site, "connection-remove")
    await accessible(site)
    await site.get_by_role("link", name="Cancel").click()
    await expect(site.get_by_role("heading", name="Connected Slack accounts")).to_be_visible()
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (2,)

    # Remove, confirmed: the result page, and the Slack person is told.
    await ada.get_by_role("link", name=re.compile("^Remove… Ada Lovelace")).click()
    await site.get_by_role("button", name="Remove").click()
    await expect(site.get_by_role("heading", name="Removed")).to_be_visible()
    await expect(site.get_by_role("status")).to_contain_text("no longer acts as you")
    await accessible(site)
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT slack_user_id FROM bindings").fetchall() == [("U0GRACE",)]
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0ADA")
    await expect(slack.get_by_text("no longer connected to Acme").last).to_be_visible()

    # The last one removed too: the empty list says how to connect.
    await site.get_by_role("link", name="Your connected Slack accounts").click()
    await site.get_by_role("link", name=re.compile("^Remove… Grace Hopper")).click()
    await site.get_by_role("button", name="Remove").click()
    await site.get_by_role("link", name="Your connected Slack accounts").click()
    await expect(site.get_by_role("status")).to_contain_text("No Slack account is connected")
    await expect(site.get_by_text("run the app's slash command with link in Slack")).to_be_visible()
    await accessible(site)


async def test_the_connections_pages_fit_a_phone(browser: Browser, sandbox: Sandbox) -> None:
    context = await browser.new_context(viewport=PHONE, is_mobile=True)
    context.set_default_timeout(10_000)
    try:
        site = await connect(context, sandbox, "U0ALAN")
        await site.goto(f"{sandbox.site_url}/connections")
        await expect(site.get_by_text("Alan Turing").first).to_be_visible()
        await fits(site)
        await accessible(site)
        remove = site.get_by_role("link", name=re.compile("^Remove…"))
        box = await remove.bounding_box()
        assert box and box["height"] >= 40  # a comfortable target for a finger
        await remove.click()
        await expect(site.get_by_role("button", name="Remove")).to_be_visible()
        await fits(site)
        await accessible(site)
        await site.get_by_role("button", name="Remove").click()
        await expect(site.get_by_role("heading", name="Removed")).to_be_visible()
        await fits(site)
        await accessible(site)
    finally:
        await context.close()


async def test_unlink_asks_in_slack_then_disconnects(
    context: BrowserContext, sandbox: Sandbox
) -> None:
    """The sandbox as Slack: unlink's question, Keep it, then Disconnect, and the DM."""
    await connect(context, sandbox, "U0ADA")
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0ADA")
    await run_command(slack, "unlink")
    await expect(
        slack.get_by_text("Disconnect your Slack account from Acme (connected as demo)?")
    ).to_be_visible()
    await accessible(slack)
    await slack.get_by_role("button", name="Keep it").click()
    await expect(slack.get_by_text("Nothing was changed.")).to_be_visible()
    await expect(slack.get_by_role("button", name="Disconnect")).to_have_count(0)

    await run_command(slack, "unlink")
    await slack.get_by_role("button", name="Disconnect").click()
    await expect(slack.get_by_text("Disconnected from Acme")).to_be_visible()
    await expect(slack.get_by_text("no longer connected to Acme").last).to_be_visible()
    await accessible(slack)
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (0,)
