"""The App Home tab and the shortcut "Connect account" in Chromium, through the sandbox page and
the real app running as `account-binding run` (the browser journeys' way), axe on each view."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, expect
from processes import AppProcess, free_port
from test_browser_journeys import (  # noqa: F401 - fixtures
    SITE_HOST,
    Sandbox,
    accessible,
    browser,
    context,
    log_in,
    open_link,
)


@pytest.fixture
async def sandbox_with_every_trigger(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The sandbox with BINDING_TRIGGERS listing all four, so its page offers the shortcut."""
    port = free_port()
    site_url = f"http://{SITE_HOST}:{port}"
    app = AppProcess(
        tmp_path,
        PORT=str(port),
        PUBLIC_URL=site_url,
        SANDBOX_PORT=str(free_port()),
        LOGIN_SLOWDOWN_SECONDS="0",
        BINDING_TRIGGERS="command,link,home,shortcut",
    )
    await app.start()
    slack = re.search(r"Try the app as a Slack user:\s+(\S+)", app.output)
    demo = re.search(r"Demo login:\s+demo / (\S+)", app.output)
    assert slack and demo, app.output
    try:
        yield Sandbox(slack.group(1).rstrip("/"), site_url, demo.group(1), tmp_path / "app.sqlite3")
    finally:
        await app.stop()
    assert "Traceback" not in app.output, app.output


async def test_connect_and_disconnect_from_the_home_tab_and_the_shortcut(
    context: BrowserContext,  # noqa: F811
    sandbox_with_every_trigger: Sandbox,
) -> None:
    sandbox = sandbox_with_every_trigger
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0ADA")

    # Not connected: the tab says so, offers Connect and lists the commands.
    await slack.get_by_role("button", name="App Home").click()
    await expect(slack.get_by_text("is not connected to your Acme account")).to_be_visible()
    await expect(slack.get_by_text("shows your Acme account")).to_be_visible()
    await accessible(slack)

    # Connect: the link arrives by DM, naming its expiry; it binds on the site.
    await slack.get_by_role("button", name="Connect your Acme account").click()
    await slack.get_by_role("link", name="#general and direct messages").click()
    await expect(slack.get_by_text("as you asked on the app's Home tab")).to_be_visible()
    await expect(slack.get_by_text("expires in 10 minutes").last).to_be_visible()
    site = await open_link(context, slack)
    await log_in(site, sandbox.password)
    await site.get_by_role("button", name="Connect").click()
    await expect(site.get_by_role("heading", name="Connected")).to_be_visible()

    # The tab follows: connected as demo, with Disconnect behind Slack's confirmation.
    await slack.get_by_role("button", name="App Home").click()
    await expect(slack.get_by_text("connected to Acme as demo")).to_be_visible()
    await accessible(slack)
    await slack.get_by_role("button", name="Disconnect").click()
    dialog = slack.get_by_role("alertdialog", name="Disconnect?")
    await expect(dialog).to_contain_text("Disconnect your Slack account from Acme?")
    await accessible(slack)
    await dialog.get_by_role("link", name="Cancel").click()
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (1,)
    await slack.get_by_role("button", name="Disconnect").click()
    await slack.get_by_role("alertdialog").get_by_role("button", name="Disconnect").click()
    await expect(slack.get_by_text("is not connected to your Acme account")).to_be_visible()
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (0,)

    # The shortcut, from the conversation: a link by DM as well.
    await slack.get_by_role("link", name="#general and direct messages").click()
    await expect(slack.get_by_text("no longer connected to Acme")).to_be_visible()
    await slack.get_by_role("button", name="Connect account").click()
    await expect(slack.get_by_text("as you asked with the shortcut")).to_be_visible()
    await accessible(slack)
