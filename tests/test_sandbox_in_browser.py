"""The sandbox page in Chromium: it fits a phone, and after each Send the text field has the
focus again with the newest answer in view. Uses the browser journeys' fixtures."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect
from test_browser_journeys import (  # noqa: F401 - fixtures
    DESKTOP,
    PHONE,
    Sandbox,
    browser,
    run_command,
    sandbox,
)


async def send_by_button(page: Page, text: str) -> None:
    await page.get_by_label("Slash command").fill(text)
    await page.get_by_role("button", name="Send").click()
    await page.wait_for_load_state()


async def in_view(page: Page, selector: str) -> bool:
    return bool(
        await page.eval_on_selector(
            selector,
            "e => { const r = e.getBoundingClientRect();"
            " return r.bottom > 0 && r.top < window.innerHeight; }",
        )
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_send_fits_its_box_and_the_field_keeps_the_focus(
    browser: Browser,  # noqa: F811
    sandbox: Sandbox,  # noqa: F811
    viewport: dict[str, int],
) -> None:
    context = await browser.new_context(viewport=viewport, is_mobile=viewport is PHONE)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await page.goto(f"{sandbox.slack_url}/?user=U0ADA")
        row = await page.locator(".composer .row").bounding_box()
        send = await page.get_by_role("button", name="Send").bounding_box()
        assert row and send
        assert send["x"] + send["width"] <= row["x"] + row["width"], "Send overflows its box"
        assert send["x"] >= row["x"]

        for n in range(6):  # enough answers to fill the screen
            if n % 2:
                await run_command(page, "help")  # by Enter
            else:
                await send_by_button(page, "help")
            await expect(page.locator("#text")).to_be_focused(timeout=3000)
            assert await in_view(page, ".messages > li:last-child"), "the answer is out of view"
            assert await in_view(page, "#text")
        # Typing goes straight into the field.
        await page.keyboard.type("whoami")
        await expect(page.get_by_label("Slash command")).to_have_value("whoami")
    finally:
        await context.close()
