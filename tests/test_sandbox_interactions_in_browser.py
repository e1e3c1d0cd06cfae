"""The sandbox page's buttons, confirm dialogs, App Home tab and shortcuts, in Chromium with
axe-core, and the refusals of the forms behind them over plain HTTP.

A scripted stand-in app on the fake's Socket Mode answers: a slash command with buttons, a
click by replacing the message (or republishing the Home tab), App Home opened by publishing
a view, a shortcut by a DM."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect
from test_browser_journeys import DESKTOP, PHONE, accessible, browser  # noqa: F401 - fixture

from fake_slack import FakeSlack
from fake_slack.sandbox_page import install_sandbox_page

CONFIRM = {
    "title": {"type": "plain_text", "text": "Unbind <Acme>?"},
    "text": {"type": "plain_text", "text": "Slack stops acting as you & yours."},
    "confirm": {"type": "plain_text", "text": "Unbind"},
    "deny": {"type": "plain_text", "text": "Keep it"},
    "style": "danger",
}


def buttons(prefix: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{prefix}*: pick one"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "go",
                    "text": {"type": "plain_text", "text": "Go"},
                    "style": "primary",
                },
                {
                    "type": "button",
                    "action_id": "unbind",
                    "text": {"type": "plain_text", "text": "Unbind"},
                    "style": "danger",
                    "confirm": CONFIRM,
                },
            ],
        },
    ]


@dataclass
class ScriptedApp:
    fake: FakeSlack
    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse
    got: list[dict[str, Any]] = field(default_factory=list)

    async def api(self, method: str, **body: object) -> None:
        headers = {"Authorization": f"Bearer {self.fake.bot_token}"}
        async with self.http.post(self.fake.api_url + method, json=body, headers=headers) as r:
            assert (await r.json())["ok"], method

    async def serve(self) -> None:
        async for frame in self.ws:
            envelope = json.loads(frame.data)
            if "envelope_id" not in envelope:
                continue
            payload = envelope["payload"]
            self.got.append(payload)
            ack: dict[str, Any] = {"envelope_id": envelope["envelope_id"]}
            if envelope["type"] == "slash_commands":
                ack["payload"] = {"text": "Pick one", "blocks": buttons("Command")}
            await self.ws.send_str(json.dumps(ack))
            await self.after(payload)

    async def after(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == "event_callback" and payload["event"]["type"] == "app_home_opened":
            view = {"type": "home", "blocks": buttons("Home")}
            await self.api("views.publish", user_id=payload["event"]["user"], view=view)
        elif kind == "block_actions":
            action = payload["actions"][0]["action_id"]
            if payload["container"]["type"] == "view":
                view = {"type": "home", "blocks": buttons(f"Home, clicked {action}")}
                await self.api("views.publish", user_id=payload["user"]["id"], view=view)
            else:
                body = {"replace_original": True, "text": f"You clicked {action}"}
                async with self.http.post(payload["response_url"], json=body) as r:
                    assert r.status == 200
        elif kind == "shortcut":
            await self.api("chat.postMessage", channel=payload["user"]["id"], text="Shortcut ran")


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedApp]:
    fake = FakeSlack()
    install_sandbox_page(
        fake,
        site_url="http://127.0.0.1:9",
        demo_login=("demo", "pw"),
        shortcuts=[("bind_account", "Connect your Acme account")],
    )
    await fake.start()
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {fake.app_token}"}
            async with http.post(fake.api_url + "apps.connections.open", headers=headers) as r:
                url = (await r.json())["url"]
            async with http.ws_connect(url) as ws:
                await ws.receive()  # hello
                app = ScriptedApp(fake, http, ws)
                serving = asyncio.create_task(app.serve())
                yield app
                serving.cancel()
    finally:
        await fake.stop()


def kinds(app: ScriptedApp) -> list[str]:
    return [str(p.get("type") or p.get("command")) for p in app.got]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_buttons_confirm_dialogs_home_and_shortcuts_in_the_sandbox(
    browser: Browser,  # noqa: F811
    scripted: ScriptedApp,
    viewport: dict[str, int],
) -> None:
    context = await browser.new_context(viewport=viewport, is_mobile=viewport is PHONE)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await page.goto(f"{scripted.fake.base_url}/?user=U0ADA")
        await send(page, "hi")
        await expect(page.get_by_role("button", name="Go")).to_be_visible()
        await accessible(page)

        # A plain button: block_actions, and the app replaces the message.
        await page.get_by_role("button", name="Go").click()
        await expect(page.get_by_text("You clicked go")).to_be_visible()
        await expect(page.get_by_text("(updated)")).to_be_visible()

        # A button with a confirm dialog: nothing is sent until the person confirms.
        await send(page, "again")
        sent = len(scripted.got)
        await page.get_by_role("button", name="Unbind").click()
        dialog = page.get_by_role("alertdialog", name="Unbind <Acme>?")
        await expect(dialog).to_contain_text("Slack stops acting as you & yours.")
        await expect(dialog.get_by_role("button", name="Unbind")).to_be_focused()
        await accessible(page)
        await dialog.get_by_role("link", name="Keep it").click()
        await expect(page.get_by_role("alertdialog")).to_have_count(0)
        assert len(scripted.got) == sent
        await page.get_by_role("button", name="Unbind").click()
        await page.get_by_role("alertdialog").get_by_role("button", name="Unbind").click()
        await expect(page.get_by_text("You clicked unbind")).to_be_visible()
        assert kinds(scripted)[sent:] == ["block_actions"]

        # The Home tab: opening it sends app_home_opened; the app's view shows, clickable.
        await page.get_by_role("button", name="App Home").click()
        await expect(page.get_by_text("Home: pick one")).to_be_visible()
        assert scripted.got[-1]["event"]["type"] == "app_home_opened"
        await accessible(page)
        await page.get_by_role("button", name="Unbind").click()
        await expect(page.get_by_role("alertdialog", name="Unbind <Acme>?")).to_be_visible()
        await accessible(page)
        await page.get_by_role("alertdialog").get_by_role("button", name="Unbind").click()
        await expect(page.get_by_text("Home, clicked unbind: pick one")).to_be_visible()
        assert scripted.got[-1]["container"]["type"] == "view"

        # The global shortcut, from the conversation.
        await page.get_by_role("link", name="#general and direct messages").click()
        await page.get_by_role("button", name="Connect your Acme account").click()
        await expect(page.get_by_text("Shortcut ran")).to_be_visible()
        assert scripted.got[-1]["type"] == "shortcut"
        await accessible(page)
    finally:
        await context.close()


async def send(page: Page, text: str) -> None:
    field = page.get_by_label("Slash command")
    await field.fill(text)
    await field.press("Enter")
    await page.wait_for_load_state()


async def test_the_sandbox_forms_refuse_what_a_person_could_not_do(
    scripted: ScriptedApp,
) -> None:
    fake = scripted.fake
    await fake.send_slash_command("U0ADA", "x")
    [message] = fake.ephemerals("U0ADA")
    base = fake.base_url
    own = {"Origin": base}
    async with aiohttp.ClientSession() as http:

        async def post(path: str, data: dict[str, str], headers: dict[str, str]) -> int:
            async with http.post(
                base + path, data=data, headers=headers, allow_redirects=False
            ) as r:
                return r.status

        click = {"user": "U0ADA", "surface": "message", "ts": message.ts, "action_id": "go"}
        sent = len(scripted.got)
        assert await post("/click", click, {"Origin": "http://evil.example"}) == 403
        assert await post("/click", {**click, "user": "U0GRACE"}, own) == 400  # not theirs
        assert await post("/click", {**click, "action_id": "nope"}, own) == 400
        assert await post("/click", {**click, "surface": "home"}, own) == 400  # none published
        assert await post("/shortcut", {"user": "U0ADA", "callback_id": "other"}, own) == 400
        assert await post("/home", {"user": "U0ADA"}, {"Origin": "null"}) == 403
        # A confirm button without the confirmation only leads to the dialog.
        unbind = {**click, "action_id": "unbind"}
        assert await post("/click", unbind, own) == 303
        assert len(scripted.got) == sent
        # Looking at the Home tab sends nothing; opening it (a post) does.
        async with http.get(base + "/home?user=U0ADA") as page:
            assert page.status == 200 and "has not published a Home tab" in await page.text()
        assert len(scripted.got) == sent
        assert await post("/click", {**unbind, "confirmed": "yes"}, own) == 303
        assert kinds(scripted)[sent:] == ["block_actions"]
