"""Every journey a person makes, in a real browser (Debian's Chromium driven by Playwright),
through the sandbox page and the real app running as `account-binding run`.

Each page a journey visits is checked with axe-core; serious and critical findings fail.
With SCREENSHOTS=1 (`make screenshots`), the journeys save the pictures in docs/.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    async_playwright,
    expect,
)
from processes import AppProcess, free_port

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: The site's host name in these journeys, mapped to 127.0.0.1 inside Chromium only.
SITE_HOST = "binding.test"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # this machine has no network but loopback
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The site runs at a plain-http, non-localhost origin, as on an intranet: there browsers
    # send no Sec-Fetch-* headers, so every form must pass on its Origin alone.
    f"--host-resolver-rules=MAP {SITE_HOST} 127.0.0.1",
]
DOCS = Path(__file__).resolve().parent.parent / "docs"
DESKTOP = {"width": 1100, "height": 760}
PHONE = {"width": 375, "height": 740}


def chromium_or_skip() -> str:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).is_file():
        return CHROMIUM
    message = f"Chromium is not at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Sandbox:
    slack_url: str
    site_url: str
    password: str
    database: Path


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    port = free_port()
    site_url = f"http://{SITE_HOST}:{port}"
    app = AppProcess(
        tmp_path,
        PORT=str(port),
        PUBLIC_URL=site_url,
        SANDBOX_PORT=str(free_port()),
        LOGIN_SLOWDOWN_SECONDS="0",
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


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_or_skip()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    yield context
    await context.close()


async def accessible(page: Page) -> None:
    """No serious or critical axe-core finding on this page."""
    results = await Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{page.url}: " + "; ".join(serious)


async def screenshot(page: Page, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(path=DOCS / f"{name}.png")


async def run_command(page: Page, text: str) -> None:
    """Type the slash command text in the sandbox and send it with Enter."""
    field = page.get_by_label("Slash command")
    await field.fill(text)
    await field.press("Enter")
    await page.wait_for_load_state()


async def open_link(context: BrowserContext, sandbox_page: Page) -> Page:
    """Open the newest Connect button, as a click in Slack opens a new tab."""
    async with context.expect_page() as opened:
        await sandbox_page.get_by_role(
            "link", name=re.compile("Connect your Acme account")
        ).last.click()
    page = await opened.value
    await page.wait_for_load_state()
    return page


async def log_in(page: Page, password: str, username: str = "demo") -> None:
    await page.get_by_label("User name").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state()


async def test_bind_then_use_by_keyboard_alone(context: BrowserContext, sandbox: Sandbox) -> None:
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0ADA")
    await expect(slack.get_by_text("App connected over Socket Mode")).to_be_visible()
    await accessible(slack)

    # Ada runs /acme whoami: an ephemeral reply with the link button.
    await slack.get_by_label("Slash command").press_sequentially("whoami")
    await slack.keyboard.press("Enter")
    await slack.wait_for_load_state()
    button = slack.get_by_role("link", name="Connect your Acme account").last
    await expect(button).to_be_visible()
    await expect(slack.get_by_text("Only visible to you").last).to_be_visible()
    await screenshot(slack, "sandbox")
    await accessible(slack)

    # The button is reached and opened with the keyboard.
    await button.focus()
    async with context.expect_page() as opened:
        await slack.keyboard.press("Enter")
    site = await opened.value
    await site.wait_for_load_state()

    # Not logged in yet: the login page, then back to the binding page.
    await expect(site.get_by_role("heading", name="Log in to Acme")).to_be_visible()
    assert "/bind/" not in site.url  # the nonce has left the address bar
    await accessible(site)
    await expect(site.get_by_label("User name")).to_be_focused()
    await site.keyboard.type("demo")
    await site.keyboard.press("Tab")
    await site.keyboard.type(sandbox.password)
    await site.keyboard.press("Enter")
    await site.wait_for_load_state()

    # Who is about to be bound to whom.
    await expect(
        site.get_by_role("heading", name="Connect a Slack account to Acme?")
    ).to_be_visible()
    await expect(site.get_by_text("Ada Lovelace")).to_be_visible()
    await expect(
        site.get_by_text("This Slack account will be able to act as you in Acme")
    ).to_be_visible()
    await expect(site.locator("dd").filter(has_text="demo@example.com")).to_be_visible()
    await screenshot(site, "confirm")
    await accessible(site)

    # Tab to Connect (the first control of the page) and press it.
    for _ in range(10):
        await site.keyboard.press("Tab")
        if await site.get_by_role("button", name="Connect").evaluate(
            "b => b === document.activeElement"
        ):
            break
    else:
        raise AssertionError("Connect cannot be reached with Tab")
    await site.keyboard.press("Enter")
    await site.wait_for_load_state()
    await expect(site.get_by_role("heading", name="Connected")).to_be_visible()
    await expect(site.get_by_role("status")).to_contain_text(
        "now connected to your Acme account demo"
    )
    await screenshot(site, "success")
    await accessible(site)

    # Back to Slack: the DM is there, and the command now answers as demo.
    await site.get_by_role("link", name="Back to Slack").focus()
    await site.keyboard.press("Enter")
    await site.wait_for_load_state()
    await expect(site.get_by_text("Direct message from the app")).to_be_visible()
    await expect(site.get_by_text("now connected to Acme as demo")).to_be_visible()
    # whoami only reads, so it ran by itself once connected (its box was ticked); run again:
    await site.get_by_label("Slash command").press_sequentially("whoami")
    await site.keyboard.press("Enter")
    await site.wait_for_load_state()
    await expect(
        site.locator("#latest").get_by_text("You are connected to Acme as demo")
    ).to_be_visible()
    await accessible(site)


async def test_cancel_binds_nothing(context: BrowserContext, sandbox: Sandbox) -> None:
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0GRACE")
    await run_command(slack, "todo")
    site = await open_link(context, slack)
    await log_in(site, sandbox.password)
    await expect(site.get_by_text("Grace Hopper")).to_be_visible()
    await site.get_by_role("button", name="Cancel").click()
    await expect(site.get_by_role("heading", name="Nothing was connected")).to_be_visible()
    await accessible(site)

    await slack.reload()
    await expect(slack.get_by_text("Direct message from the app")).to_have_count(0)
    await run_command(slack, "whoami")
    await expect(slack.get_by_role("link", name="Connect your Acme account").last).to_be_visible()
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (0,)


async def test_a_used_and_an_expired_link_show_their_pages(
    context: BrowserContext, sandbox: Sandbox
) -> None:
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0ALAN")
    await run_command(slack, "link")
    link = await slack.get_by_role("link", name="Connect your Acme account").last.get_attribute(
        "href"
    )
    assert link
    site = await open_link(context, slack)
    await log_in(site, sandbox.password)
    await site.get_by_role("button", name="Connect").click()
    await expect(site.get_by_role("heading", name="Connected")).to_be_visible()

    # The old Connect button, pressed after binding: "already connected".
    used = await context.new_page()
    response = await used.goto(link)
    assert response and response.status == 409
    await expect(used.get_by_role("heading", name="Already connected")).to_be_visible()
    await expect(used.get_by_role("status")).to_contain_text("your Acme account demo")
    await accessible(used)

    # After unlink, the used link is just used, and says which command gives a new one.
    await slack.bring_to_front()
    await run_command(slack, "unlink")
    await slack.get_by_role("button", name="Disconnect").last.click()
    await expect(slack.get_by_text("Disconnected from Acme")).to_be_visible()
    response = await used.goto(link)
    assert response and response.status == 410
    await expect(used.get_by_role("heading", name="Link already used")).to_be_visible()
    await expect(used.get_by_role("alert")).to_contain_text(
        re.compile(r"Run (the link command|/acme link) in Slack again")
    )
    await accessible(used)

    await slack.bring_to_front()
    await run_command(slack, "link")
    fresh = await slack.get_by_role("link", name="Connect your Acme account").last.get_attribute(
        "href"
    )
    assert fresh and fresh != link
    with sqlite3.connect(sandbox.database) as db:
        db.execute("UPDATE binding_requests SET expires_at = 1 WHERE used_at IS NULL")
    expired = await context.new_page()
    response = await expired.goto(fresh)
    assert response and response.status == 410
    await expect(expired.get_by_role("heading", name="Link expired")).to_be_visible()
    await expect(expired.get_by_role("alert")).to_contain_text("expired")
    await accessible(expired)


async def test_a_second_tab_and_a_late_press_are_told_what_happened(
    context: BrowserContext, sandbox: Sandbox
) -> None:
    """Connect in one tab, then Connect in a second tab: "already connected" (not "no link
    was opened in this browser"). Connect pressed after the link expired: "expired"."""
    slack = await context.new_page()
    await slack.goto(f"{sandbox.slack_url}/?user=U0ADA")
    await run_command(slack, "link")
    first = await open_link(context, slack)
    await log_in(first, sandbox.password)
    second = await context.new_page()
    await second.goto(f"{sandbox.site_url}/bind")
    await expect(second.get_by_role("button", name="Connect")).to_be_visible()
    await first.get_by_role("button", name="Connect").click()
    await expect(first.get_by_role("heading", name="Connected")).to_be_visible()
    await second.get_by_role("button", name="Connect").click()
    await expect(second.get_by_role("heading", name="Already connected")).to_be_visible()
    await expect(second.get_by_role("status")).to_contain_text("your Acme account demo")
    await accessible(second)

    await slack.goto(f"{sandbox.slack_url}/?user=U0GRACE")
    await run_command(slack, "link")
    late = await open_link(context, slack)
    await log_in(late, sandbox.password)
    await expect(late.get_by_role("button", name="Connect")).to_be_visible()
    with sqlite3.connect(sandbox.database) as db:
        db.execute("UPDATE binding_requests SET expires_at = 1 WHERE used_at IS NULL")
    await late.get_by_role("button", name="Connect").click()
    await expect(late.get_by_role("heading", name="Link expired")).to_be_visible()
    await accessible(late)
    with sqlite3.connect(sandbox.database) as db:
        assert db.execute("SELECT slack_user_id FROM bindings").fetchall() == [("U0ADA",)]


async def test_log_out_and_a_wrong_password(context: BrowserContext, sandbox: Sandbox) -> None:
    """Also shows what the site relies on at a plain-http, non-localhost origin: Chromium
    sends no Sec-Fetch-Site there, only this site's Origin (Referrer-Policy: same-origin)."""
    posts: list[dict[str, str]] = []

    async def record(request: Request) -> None:
        if request.method == "POST" and request.url.startswith(sandbox.site_url):
            posts.append(await request.all_headers())

    context.on("request", record)
    page = await context.new_page()
    await page.goto(f"{sandbox.site_url}/login")
    await log_in(page, "not the password")
    await expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    await expect(page.get_by_label("User name")).to_have_value("demo")
    await accessible(page)

    await page.get_by_label("Password").fill(sandbox.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_text("You are logged in as")).to_be_visible()
    await accessible(page)
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="You are logged out")).to_be_visible()
    await accessible(page)
    await page.goto(f"{sandbox.site_url}/")
    await expect(page.get_by_text("You are not logged in")).to_be_visible()
    assert len(posts) == 3  # two logins and a logout
    for headers in posts:
        assert headers.get("origin") == sandbox.site_url, headers
        assert "sec-fetch-site" not in headers, headers


async def test_pages_fit_a_phone(browser: Browser, sandbox: Sandbox) -> None:
    context = await browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        slack = await context.new_page()
        await slack.goto(f"{sandbox.slack_url}/?user=U0ADA")
        await run_command(slack, "whoami")
        site = await open_link(context, slack)
        pages = [slack]
        await expect(site.get_by_role("heading", name="Log in to Acme")).to_be_visible()
        pages.append(site)
        await log_in(site, sandbox.password)
        await expect(site.get_by_role("button", name="Connect")).to_be_visible()
        for page in pages:
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{page.url} scrolls sideways on a phone by {overflow}px"
            await accessible(page)
        box = await site.get_by_role("button", name="Connect").bounding_box()
        assert box and box["height"] >= 40  # a comfortable target for a finger
    finally:
        await context.close()
