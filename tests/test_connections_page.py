"""The "Connected Slack accounts" page over real HTTP against the real app (issue 10): the
logged-in person's bindings, and Remove behind a confirmation, for their own bindings only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import RunningApp, csrf_of, find_link, hidden_fields, login, run_app

from account_binding.binding import WEB_REMOVAL

REMOVE_LINK = re.compile(r'href="(/connections/([0-9a-f]{32})/remove)"')


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    async with run_app(tmp_path) as running:
        yield running


async def logged_in_browser(app: RunningApp, username: str) -> httpx.AsyncClient:
    browser = app.browser()
    done = await login(browser, username, next_path="/connections")
    assert done.status_code == 303 and done.headers["location"] == "/connections", done.text
    return browser


def public_id_of(app: RunningApp, slack_user: str) -> str:
    [(public_id,)] = app.query(
        "SELECT public_id FROM bindings WHERE slack_user_id = ?", (slack_user,)
    )
    assert isinstance(public_id, str)
    return public_id


async def used(app: RunningApp, slack_user: str) -> int:
    """The binding's last_used_at, once set (the app notes it just after answering)."""
    for _ in range(200):
        [(last_used_at,)] = app.query(
            "SELECT last_used_at FROM bindings WHERE slack_user_id = ?", (slack_user,)
        )
        if isinstance(last_used_at, int):
            return last_used_at
        await asyncio.sleep(0.025)
    raise AssertionError(f"the use of {slack_user}'s binding was not recorded")


def when(timestamp: object) -> str:
    assert isinstance(timestamp, int)
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def test_the_page_asks_to_log_in_and_comes_back(app: RunningApp) -> None:
    await app.add_user("ada")
    browser = app.browser()
    page = await browser.get("/connections")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fconnections"
    done = await login(browser, "ada", next_path="/connections")
    assert done.headers["location"] == "/connections"
    page = await browser.get("/connections")
    assert page.status_code == 200 and "<h1>Connected Slack accounts</h1>" in page.text
    # The confirm step too: log in, then back to it.
    asked = await app.browser().get(f"/connections/{'a' * 32}/remove")
    assert asked.headers["location"] == f"/login?next=%2Fconnections%2F{'a' * 32}%2Fremove"


async def test_the_home_and_success_pages_link_to_it(app: RunningApp) -> None:
    await app.add_user("ada")
    browser = app.browser()
    await login(browser, "ada")
    assert 'href="/connections"' in (await browser.get("/")).text
    url = await app.link_for("U0ADA")
    browser, page = await app.open_link_as("ada", url)
    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200 and 'href="/connections"' in done.text


async def test_an_empty_list_says_so_and_how_to_connect(app: RunningApp) -> None:
    await app.add_user("ada")
    page = await (await logged_in_browser(app, "ada")).get("/connections")
    assert "No Slack account is connected to your Acme account." in page.text
    assert "run the app&#39;s slash command with link in Slack" in page.text
    assert not REMOVE_LINK.search(page.text)


async def test_the_list_shows_each_binding_with_its_workspace_names_and_times(
    app: RunningApp,
) -> None:
    await app.bind("ada", "U0ADA")
    await app.bind("ada", "U0GRACE")  # one person may connect two Slack accounts
    await app.bind("bob", "U0ALAN")  # someone else's: not listed
    await app.command("U0ADA", "whoami")  # the Slack side acts with Ada's binding
    await used(app, "U0ADA")  # noted just after the answer
    rows = app.query(
        "SELECT slack_user_id, created_at, last_used_at FROM bindings ORDER BY slack_user_id"
    )
    (_, ada_bound, ada_used), (_, _, alan_used), (_, grace_bound, grace_used) = rows
    assert grace_used is None and alan_used is None
    page = await (await logged_in_browser(app, "ada")).get("/connections")
    assert page.status_code == 200
    text = page.text
    assert "Ada Lovelace" in text and "@ada" in text and "<code>U0ADA</code>" in text
    assert "Grace Hopper" in text and "<code>U0GRACE</code>" in text
    assert "U0ALAN" not in text and "Alan Turing" not in text
    assert "Slack workspace" in text and "<code>T0SANDBOX</code>" in text
    assert when(ada_bound) in text and when(ada_used) in text and when(grace_bound) in text
    assert "Not used yet" in text  # Grace's
    assert [m.group(2) for m in REMOVE_LINK.finditer(text)] == [
        public_id_of(app, "U0ADA"),
        public_id_of(app, "U0GRACE"),
    ]


async def test_remove_asks_first_then_removes_revokes_audits_and_tells_the_slack_person(
    app: RunningApp,
) -> None:
    token = await app.bind("ada", "U0ADA")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await app.http.get("/api/me", headers=bearer)).status_code == 200
    browser = await logged_in_browser(app, "ada")
    listed = await browser.get("/connections")
    [match] = REMOVE_LINK.finditer(listed.text)
    asked = await browser.get(match.group(1))
    # Asking removes nothing: only the POST does.
    assert asked.status_code == 200 and "<h1>Remove this Slack account?</h1>" in asked.text
    assert "<code>U0ADA</code>" in asked.text
    assert app.query("SELECT count(*) FROM bindings") == [(1,)]
    done = await browser.post(match.group(1), data={"csrf_token": csrf_of(asked)})
    assert done.status_code == 200, done.text
    assert "<h1>Removed</h1>" in done.text and "U0ADA" in done.text
    assert app.query("SELECT count(*) FROM bindings") == [(0,)]
    assert (await app.http.get("/api/me", headers=bearer)).status_code == 401
    [audit] = app.query(
        "SELECT username, slack_user_id, client, detail FROM audit_events WHERE event = 'unbound'"
    )
    assert audit == ("ada", "U0ADA", "127.0.0.1", WEB_REMOVAL)
    await app.fake.wait_for_message(
        lambda m: m.where == "dm" and m.user_id == "U0ADA" and "no longer connected" in m.text
    )
    # Pressing Remove again (a second tab, the back button) removes nothing and says so.
    again = await browser.post(match.group(1), data={"csrf_token": csrf_of(asked)})
    assert again.status_code == 404 and "removed already" in again.text
    assert "No Slack account is connected" in (await browser.get("/connections")).text


async def test_another_persons_binding_is_a_404_and_is_not_removed(app: RunningApp) -> None:
    await app.bind("ada", "U0ADA")
    await app.add_user("bob")
    adas = public_id_of(app, "U0ADA")
    bob = await logged_in_browser(app, "bob")
    asked = await bob.get(f"/connections/{adas}/remove")
    assert asked.status_code == 404 and "Ada Lovelace" not in asked.text
    token = csrf_of(await bob.get("/"))  # the session's token, on the home page's form
    done = await bob.post(f"/connections/{adas}/remove", data={"csrf_token": token})
    assert done.status_code == 404
    assert app.query("SELECT slack_user_id FROM bindings") == [("U0ADA",)]
    assert app.query("SELECT count(*) FROM audit_events WHERE event = 'unbound'") == [(0,)]


async def test_remove_needs_the_sessions_csrf_token_and_a_post_from_this_site(
    app: RunningApp,
) -> None:
    await app.bind("ada", "U0ADA")
    path = f"/connections/{public_id_of(app, 'U0ADA')}/remove"
    browser = await logged_in_browser(app, "ada")
    token = csrf_of(await browser.get(path))
    assert (await browser.post(path, data={"other": "field"})).status_code == 403
    assert (await browser.post(path, data={"csrf_token": token + "x"})).status_code == 403
    other_site = await browser.post(
        path, data={"csrf_token": token}, headers={"Origin": "http://evil.example"}
    )
    assert other_site.status_code == 403
    assert app.query("SELECT count(*) FROM bindings") == [(1,)]
    # Not logged in: nothing removed, asked to log in.
    stranger = await app.browser().post(path, data={"csrf_token": token})
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/login")
    assert app.query("SELECT count(*) FROM bindings") == [(1,)]
    assert (await browser.post(path, data={"csrf_token": token})).status_code == 200


async def test_addresses_that_name_no_binding_are_404_never_500(app: RunningApp) -> None:
    await app.add_user("ada")
    browser = await logged_in_browser(app, "ada")
    token = csrf_of(await browser.get("/"))
    for bad in ("x", "A" * 32, "0" * 31, "0" * 5000, "%00" * 3, "é" * 32):
        assert (await browser.get(f"/connections/{bad}/remove")).status_code == 404
        posted = await browser.post(f"/connections/{bad}/remove", data={"csrf_token": token})
        assert posted.status_code == 404


async def test_binding_again_after_removing_on_the_web_works(app: RunningApp) -> None:
    await app.bind("ada", "U0ADA")
    browser = await logged_in_browser(app, "ada")
    path = f"/connections/{public_id_of(app, 'U0ADA')}/remove"
    done = await browser.post(path, data={"csrf_token": csrf_of(await browser.get(path))})
    assert done.status_code == 200
    again = await app.command("U0ADA", "whoami")
    assert find_link(again)  # not connected any more: a new link
    await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", "whoami")
    assert "You are ada in Acme." in answer[-1].text
    assert public_id_of(app, "U0ADA") not in path  # a new public ID


async def test_the_page_works_behind_an_authenticating_proxy(tmp_path: Path) -> None:
    """AUTH=proxy: the person the proxy names; their first visit logs in and comes back."""
    async with run_app(tmp_path, AUTH="proxy", TRUSTED_PROXIES="127.0.0.1") as app:
        browser = app.browser()
        browser.headers["X-Forwarded-User"] = "ada"
        browser.headers["X-Forwarded-Email"] = "ada@example.com"
        page = await browser.get("/connections")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fconnections"
        back = await browser.get(page.headers["location"])
        assert back.status_code == 303 and back.headers["location"] == "/connections"
        page = await browser.get("/connections")
        assert page.status_code == 200 and "<strong>ada</strong>" in page.text
        assert "No Slack account is connected" in page.text
