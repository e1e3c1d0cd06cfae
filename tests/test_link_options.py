"""The tutorial's options as the slash command applies them, over the real app and a fake
Slack: BINDING_TRIGGERS (which actions start binding), LINK_DELIVERY (where the URL goes)
and BINDING_TTL (said in every message that carries a link)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import RunningApp, find_link, hidden_fields, login, run_app

from fake_slack import Message

ADA = "U0ADA"


def shown(messages: list[Message]) -> str:
    """Everything the messages show, text and blocks."""
    return json.dumps([[m.text, m.blocks] for m in messages])


def link_buttons(messages: list[Message]) -> list[dict[str, object]]:
    return [
        element
        for message in messages
        for block in message.blocks
        for element in block.get("elements", [])
        if element.get("type") == "button" and "url" in element
    ]


def links_issued(app: RunningApp) -> int:
    [(count,)] = app.query("SELECT count(*) FROM binding_requests")
    assert isinstance(count, int)
    return count


async def bind_with(app: RunningApp, url: str, username: str = "ada") -> None:
    """`username` opens `url`, logs in for it and presses Connect: it must bind."""
    if username not in app.users:
        await app.add_user(username)
    browser = app.browser()
    opened = await browser.get(urlsplit(url).path)
    assert opened.status_code == 303, opened.text
    await login(browser, username, next_path="/bind")
    page = await browser.get("/bind")
    before = app.background_marks()
    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200, done.text
    await app.after_connect(before)


# BINDING_TRIGGERS


async def test_with_command_any_command_from_someone_not_connected_answers_with_a_link(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path, BINDING_TRIGGERS="command") as app:
        answer = await app.command(ADA, "whoami")
        url = find_link(answer)
        assert answer[0].where == "ephemeral" and links_issued(app) == 1
        # Without `link`, the help does not list it, and `link` is not a subcommand.
        help_text = shown(await app.command(ADA, "help"))
        assert "/acme whoami" in help_text and "/acme unlink" in help_text
        assert "/acme link" not in help_text
        refused = await app.command(ADA, "link")
        assert "I don't know `link`" in shown(refused)
        assert not link_buttons(refused) and links_issued(app) == 1
        await bind_with(app, url)
        assert "You are connected to Acme as *ada*" in shown(await app.command(ADA, "whoami"))


async def test_without_command_a_command_says_how_to_connect_and_issues_no_link(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path, BINDING_TRIGGERS="link,home,shortcut") as app:
        for text in ("whoami", "todo", "todo add milk"):
            answer = await app.command(ADA, text)
            said = shown(answer)
            assert "not connected to your Acme account yet" in said, said
            assert "run `/acme link`" in said.lower()
            assert "Home tab of the Acme app" in said
            assert "*Connect account* shortcut" in said
            assert "/bind/" not in said and not link_buttons(answer)
        assert links_issued(app) == 0
        # `link` still gives one, and `help` lists it.
        assert "/acme link" in shown(await app.command(ADA, "help"))
        await bind_with(app, find_link(await app.command(ADA, "link")))
        assert "You are connected to Acme as *ada*" in shown(await app.command(ADA, "whoami"))


async def test_without_command_or_link_only_the_enabled_ways_are_named(tmp_path: Path) -> None:
    async with run_app(tmp_path, BINDING_TRIGGERS="home") as app:
        answer = await app.command(ADA, "whoami")
        said = shown(answer)
        assert "To connect, press *Connect* on the Home tab of the Acme app." in said
        assert "/acme link" not in said and "shortcut" not in said
        assert "I don't know `link`" in shown(await app.command(ADA, "link"))
        assert links_issued(app) == 0


@pytest.mark.parametrize(
    ("triggers", "unknown_says", "cancelled_says"),
    [
        (
            "command,link,home",
            "Run the app&#39;s slash command with link in Slack",
            "run /acme link",
        ),
        ("command,home", "Run the app&#39;s slash command in Slack", None),
        ("home,shortcut", "Press Connect on the app&#39;s Home tab in Slack", None),
        ("shortcut", "Use the shortcut Connect account in Slack", None),
    ],
)
async def test_the_pages_name_only_the_enabled_ways_to_get_a_link(
    tmp_path: Path, triggers: str, unknown_says: str, cancelled_says: str | None
) -> None:
    async with run_app(tmp_path, BINDING_TRIGGERS=triggers) as app:
        await app.add_user("ada")
        unknown = await app.http.get("/bind/not-a-real-nonce")
        assert unknown.status_code == 404
        assert unknown_says in unknown.text
        if "link" not in triggers:
            assert "with link" not in unknown.text and "/acme link" not in unknown.text
        if cancelled_says is not None:  # a link's own page names its command
            url = find_link(await app.command(ADA, "link"))
            browser, page = await app.open_link_as("ada", url)
            cancelled = await browser.post(
                "/bind", data={**hidden_fields(page), "action": "cancel"}
            )
            assert f"{cancelled_says} in Slack for a new link" in cancelled.text


async def test_without_command_an_expired_connection_is_told_how_to_connect_again(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path, BINDING_TRIGGERS="link", API_TOKEN_TTL="3600") as app:
        await app.bind("ada", ADA)
        app.query("UPDATE api_tokens SET expires_at = 1")
        before = links_issued(app)
        answer = await app.command(ADA, "whoami")
        said = shown(answer)
        assert "connection to Acme has expired" in said and "run `/acme link`" in said
        assert not link_buttons(answer) and links_issued(app) == before
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]


# The link message's button


async def test_the_button_carries_its_links_hash_never_the_nonce(running_app: RunningApp) -> None:
    answer = await running_app.command(ADA, "link")
    [button] = link_buttons(answer)
    nonce = urlsplit(str(button["url"])).path.rsplit("/", 1)[1]
    assert button["value"] == hashlib.sha256(nonce.encode()).hexdigest()
    # The nonce is in the URL only.
    assert shown(answer).count(nonce) == 2  # the button's URL and the text fallback's URL
    assert nonce not in str(button["value"])


# LINK_DELIVERY


async def test_link_delivery_dm_sends_the_link_by_dm_and_says_where(tmp_path: Path) -> None:
    async with run_app(tmp_path, LINK_DELIVERY="dm") as app:
        everything = await app.command(ADA, "whoami")
        answer = [m for m in everything if m.where == "ephemeral"]
        assert len(answer) == 1 and len(everything) == 2
        said = shown(answer)
        assert "direct message from the *Acme* app" in said and "expires in 10 minutes" in said
        assert "/bind/" not in said and not link_buttons(answer)
        [dm] = app.fake.dms(ADA)
        assert dm.source == "chat.postMessage"
        [button] = link_buttons([dm])
        assert "value" in button and "expires in 10 minutes" in shown([dm])
        assert "This message is only for you" in shown([dm])
        await bind_with(app, find_link([dm]))
        assert "You are connected to Acme as *ada*" in shown(await app.command(ADA, "whoami"))


async def test_link_delivery_dm_that_fails_gives_the_link_in_the_reply(tmp_path: Path) -> None:
    async with run_app(tmp_path, LINK_DELIVERY="dm") as app:
        app.fake.fail("chat.postMessage", "channel_not_found")
        answer = await app.command(ADA, "link")
        said = shown(answer)
        assert "could not send you a direct message" in said
        assert answer[0].where == "ephemeral" and "expires in 10 minutes" in said
        assert app.fake.dms(ADA) == []
        await bind_with(app, find_link(answer))


async def test_link_delivery_ephemeral_answers_in_the_reply(running_app: RunningApp) -> None:
    answer = await running_app.command(ADA, "whoami")
    assert answer[0].where == "ephemeral" and link_buttons(answer)
    assert running_app.fake.dms(ADA) == []


# BINDING_TTL, said wherever a link goes


@pytest.mark.parametrize("delivery", ["ephemeral", "dm"])
async def test_binding_ttl_is_said_with_every_link(tmp_path: Path, delivery: str) -> None:
    async with run_app(tmp_path, BINDING_TTL="90", LINK_DELIVERY=delivery) as app:
        everything = await app.command(ADA, "todo")
        with_links = [m for m in everything if link_buttons([m])]
        assert with_links
        for message in everything:
            assert "expires in 1 minute 30 seconds" in shown([message]), message
