"""Never a dead button, in Slack: a click on an old link message's button, over the real app
and the fake Slack (`FakeSlack.click` sends Slack's block_actions with a response_url bound to
the message; a post with `replace_original` replaces it in place).

The click is acknowledged at once; a link that still works is left alone; one that does not
is replaced in place by a fresh link for the person who clicked, or by "You're connected as
…" when they are connected by now; a button carrying someone else's link does nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import RunningApp, find_link, hidden_fields, run_app
from test_app_home import open_home
from test_link_options import bind_with, link_buttons, links_issued
from unbinding import disconnect

from bolt_app.home_tab import CONNECT_ACTION
from bolt_app.messages import OPEN_LINK_ACTION
from fake_slack import Message

ADA = "U0ADA"
GRACE = "U0GRACE"
#: The longest a test waits for the app's answer to a click, in seconds.
DEADLINE = 10.0


def shown(message: Message) -> str:
    return json.dumps([message.text, message.blocks])


def expire_all(app: RunningApp) -> None:
    app.query(
        "UPDATE binding_requests SET expires_at = ? WHERE used_at IS NULL",
        (int(time.time()) - 1,),
    )


async def until(done: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not done():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        await asyncio.sleep(0.02)


async def click(app: RunningApp, user_id: str, message: Message) -> None:
    """`user_id` presses the link button of `message`; Slack has its acknowledgement."""
    outcome = await app.fake.click(user_id, message, OPEN_LINK_ACTION)
    assert outcome.acked


async def click_and_wait_for_replacement(app: RunningApp, user_id: str, message: Message) -> None:
    before = message.replaced
    await click(app, user_id, message)
    await until(lambda: message.replaced > before, "the clicked message replaced")


async def click_and_wait_for_log(
    app: RunningApp, user_id: str, message: Message, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    """Click, then wait for the app to log `text`: it has then finished with the click."""
    await click(app, user_id, message)
    await until(lambda: any(text in r.getMessage() for r in caplog.records), f"a log of {text!r}")


async def test_an_expired_link_is_replaced_in_place_by_a_fresh_link_that_binds(
    running_app: RunningApp,
) -> None:
    app = running_app
    [message] = await app.command(ADA, "whoami")
    old = find_link([message])
    expire_all(app)
    await click_and_wait_for_replacement(app, ADA, message)
    assert message.replaced == 1 and message.where == "ephemeral"
    fresh = find_link([message])
    assert fresh != old
    assert "That link expired before it was used, so here is a new one." in shown(message)
    assert "expires in 10 minutes" in shown(message)
    [button] = link_buttons([message])
    assert button["action_id"] == OPEN_LINK_ACTION and len(str(button["value"])) == 64
    await bind_with(app, fresh)
    [answer] = await app.command(ADA, "whoami")
    assert "You are connected to Acme as *ada*" in shown(answer)


async def test_a_replaced_link_is_replaced_in_place_by_a_fresh_link(
    running_app: RunningApp,
) -> None:
    app = running_app
    [first] = await app.command(ADA, "link")
    [second] = await app.command(ADA, "link")
    await click_and_wait_for_replacement(app, ADA, first)
    assert "A newer link replaced that one" in shown(first)
    fresh = find_link([first])
    assert fresh != find_link([second])
    await bind_with(app, fresh)


async def test_a_used_link_says_you_are_connected_when_you_are(running_app: RunningApp) -> None:
    app = running_app
    [message] = await app.command(ADA, "link")
    await bind_with(app, find_link([message]))
    issued = links_issued(app)
    await click_and_wait_for_replacement(app, ADA, message)
    assert "You're connected as *ada* in Acme" in shown(message)
    assert not link_buttons([message]) and links_issued(app) == issued


async def test_a_used_link_gives_a_fresh_one_after_disconnecting(running_app: RunningApp) -> None:
    app = running_app
    [message] = await app.command(ADA, "link")
    await bind_with(app, find_link([message]))
    await disconnect(app, ADA)  # unlink, then its Disconnect (issue 10, unbinding)
    await click_and_wait_for_replacement(app, ADA, message)
    assert "That link was already used, so here is a new one." in shown(message)
    await bind_with(app, find_link([message]))


async def test_a_link_no_longer_known_gives_a_fresh_one(running_app: RunningApp) -> None:
    """Links are purged a day after they expire; their buttons still work."""
    app = running_app
    [message] = await app.command(ADA, "link")
    app.query("DELETE FROM binding_requests")
    await click_and_wait_for_replacement(app, ADA, message)
    assert "That link no longer works, so here is a new one." in shown(message)
    await bind_with(app, find_link([message]))


async def test_a_link_that_still_works_is_left_alone(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = running_app
    caplog.set_level(logging.DEBUG, logger="bolt_app")
    [message] = await app.command(ADA, "link")
    before = shown(message)
    await click_and_wait_for_log(app, ADA, message, caplog, "still works")
    assert message.replaced == 0 and shown(message) == before and links_issued(app) == 1


async def test_a_button_carrying_someone_elses_link_is_not_acted_on(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    """Grace clicks a button whose value is Ada's link: not for Grace, and not Ada's click."""
    app = running_app
    [adas] = await app.command(ADA, "link")
    expire_all(app)
    graces = dataclasses.replace(adas, user_id=GRACE)
    app.fake.state.messages.append(graces)
    await click_and_wait_for_log(app, GRACE, graces, caplog, "issued to someone else")
    assert graces.replaced == 0 and adas.replaced == 0
    assert links_issued(app) == 1
    assert app.query("SELECT slack_user_id, used_at IS NULL FROM binding_requests") == [(ADA, 1)]


async def test_links_per_hour_is_said_in_place(tmp_path: Path) -> None:
    async with run_app(tmp_path, LINKS_PER_HOUR="1") as app:
        [message] = await app.command(ADA, "link")
        expire_all(app)
        await click_and_wait_for_replacement(app, ADA, message)
        assert "That link expired before it was used." in shown(message)
        assert "many links in a short time" in shown(message)
        assert not link_buttons([message]) and links_issued(app) == 1


async def test_a_button_in_a_dm_gets_the_same(tmp_path: Path) -> None:
    async with run_app(tmp_path, LINK_DELIVERY="dm") as app:
        await app.command(ADA, "whoami")
        [dm] = app.fake.dms(ADA)
        old = find_link([dm])
        expire_all(app)
        await click_and_wait_for_replacement(app, ADA, dm)
        assert dm.where == "dm" and "That link expired before it was used" in shown(dm)
        assert "This message is only for you" in shown(dm)
        fresh = find_link([dm])
        assert fresh != old
        await bind_with(app, fresh)


async def test_binding_ttl_is_said_in_the_fresh_link_and_the_resent_dm(tmp_path: Path) -> None:
    async with run_app(tmp_path, BINDING_TTL="90") as app:
        [message] = await app.command(ADA, "link")
        expire_all(app)
        await click_and_wait_for_replacement(app, ADA, message)
        assert "expires in 1 minute 30 seconds" in shown(message)
        expire_all(app)
        app.query("DELETE FROM link_resends")
        browser = app.browser()
        page = await browser.get(urlsplit(find_link([message])).path)
        assert page.status_code == 410
        sent = await browser.post("/resend-link", data=hidden_fields(page))
        assert sent.status_code == 200 and "expires in 1 minute 30 seconds" in sent.text
        [dm] = app.fake.dms(ADA)
        assert link_buttons([dm]) and "expires in 1 minute 30 seconds" in shown(dm)


async def test_a_button_that_names_no_link_is_left_alone(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A link message from before buttons carried their link's ID: the click opened its link,
    which may well still work, so nothing replaces it."""
    app = running_app
    caplog.set_level(logging.DEBUG, logger="bolt_app")
    [message] = await app.command(ADA, "link")
    for button in link_buttons([message]):
        del button["value"]
    expire_all(app)
    await click_and_wait_for_log(app, ADA, message, caplog, "nothing to do")
    assert message.replaced == 0 and links_issued(app) == 1


async def test_the_home_tabs_dm_button_gets_the_same(running_app: RunningApp) -> None:
    app = running_app
    await open_home(app, ADA)
    before = len(app.fake.state.messages)
    assert (await app.fake.click_home(ADA, CONNECT_ACTION)).acked
    dm = await app.fake.wait_for_message(
        lambda m: m.where == "dm" and m.user_id == ADA, DEADLINE, after=before
    )
    [button] = link_buttons([dm])
    assert len(str(button["value"])) == 64 and "This message is only for you" in shown(dm)
    expire_all(app)
    await click_and_wait_for_replacement(app, ADA, dm)
    assert "That link expired before it was used" in shown(dm)
    await bind_with(app, find_link([dm]))
