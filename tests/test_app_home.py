"""The App Home tab and the shortcut "Connect account", end to end: the real Bolt app over a
real websocket to the fake Slack, the real site over HTTP, a real SQLite file."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningApp, find_link, hidden_fields, run_app

from bolt_app.home_tab import CONNECT_ACTION, DISCONNECT_ACTION
from fake_slack import Message

#: How long a test waits for something the app does after an acknowledgement, in seconds:
#: a bound on a hang, never a speed requirement.
PATIENCE = 10.0

ALL_TRIGGERS = "command,link,home,shortcut"

View = dict[str, Any]


def actions_of(view: View | None) -> set[str]:
    if view is None:
        return set()
    return {
        element["action_id"]
        for block in view["blocks"]
        for element in block.get("elements", [])
        if element.get("type") == "button"
    }


def text_of(view: View | None) -> str:
    if view is None:
        return ""
    parts = [str(block.get("text", {}).get("text", "")) for block in view["blocks"]]
    parts += [
        str(element.get("text", ""))
        for block in view["blocks"]
        for element in block.get("elements", [])
        if element.get("type") == "mrkdwn"
    ]
    return "\n".join(parts)


def connected(view: View | None) -> bool:
    return DISCONNECT_ACTION in actions_of(view)


def offering_connect(view: View | None) -> bool:
    return view is not None and not connected(view) and "not connected" in text_of(view)


async def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait until `check()` holds, at most PATIENCE seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


async def view_when(app: RunningApp, user_id: str, holds: Callable[[View | None], bool]) -> View:
    await eventually(lambda: holds(app.fake.home_view(user_id)), f"the Home tab of {user_id}")
    view = app.fake.home_view(user_id)
    assert view is not None
    return view


def publishes(app: RunningApp, user_id: str) -> int:
    return sum(
        1
        for call in app.fake.state.api_calls
        if call.method == "views.publish" and call.args.get("user_id") == user_id
    )


async def open_home(app: RunningApp, user_id: str) -> View:
    """`user_id` opens the Home tab; the view the app publishes for it."""
    before = publishes(app, user_id)
    outcome = await app.fake.send_event(app.fake.app_home_opened_event(user_id))
    assert outcome.acked
    await eventually(lambda: publishes(app, user_id) > before, f"a view for {user_id}")
    await eventually(lambda: app.fake.home_view(user_id) is not None, "the view recorded")
    view = app.fake.home_view(user_id)
    assert view is not None
    return view


async def next_dm(app: RunningApp, user_id: str, after: int) -> Message:
    return await app.fake.wait_for_message(
        lambda m: m.where == "dm" and m.user_id == user_id, PATIENCE, after=after
    )


async def connect_in_browser(app: RunningApp, username: str, url: str) -> None:
    browser, page = await app.open_link_as(username, url)
    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200, done.text


async def bind(app: RunningApp, username: str, slack_user: str) -> None:
    """Bind on the web, and wait for the Home tab the notifier republishes after it (so that
    a later count of publishes does not catch that one)."""
    await app.bind(username, slack_user)
    await view_when(app, slack_user, connected)


def bound(app: RunningApp, slack_user: str) -> bool:
    rows = app.query("SELECT count(*) FROM bindings WHERE slack_user_id = ?", (slack_user,))
    return rows == [(1,)]


async def test_connect_on_the_home_tab_dms_a_working_link_and_the_tab_follows(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path) as app:
        await app.add_user("ada")
        view = await open_home(app, "U0ADA")
        assert offering_connect(view) and CONNECT_ACTION in actions_of(view)
        assert "`/acme whoami` shows your Acme account" in text_of(view)

        before = len(app.fake.state.messages)
        outcome = await app.fake.click_home("U0ADA", CONNECT_ACTION)
        assert outcome.acked and not outcome.ack_payload
        dm = await next_dm(app, "U0ADA", before)
        assert "expires in 10 minutes" in str(dm.blocks)
        assert "Home tab" in str(dm.blocks)
        assert app.query("SELECT event FROM audit_events WHERE event = 'link_issued'") == [
            ("link_issued",)
        ]

        await connect_in_browser(app, "ada", find_link([dm]))
        view = await view_when(app, "U0ADA", connected)
        assert "connected to Acme as *ada*" in text_of(view)
        assert CONNECT_ACTION not in actions_of(view)


async def test_binding_and_unlinking_elsewhere_republish_the_home_tab(
    running_app: RunningApp,
) -> None:
    app = running_app
    assert offering_connect(await open_home(app, "U0ADA"))
    await bind(app, "ada", "U0ADA")  # through `/acme link` and the web page
    answer = await app.command("U0ADA", "unlink")
    asking = [m for m in answer if "unlink_disconnect" in str(m.blocks)]
    if asking:  # `unlink` asks first (issue 10, unbinding): press its Disconnect
        await app.fake.click("U0ADA", asking[-1], "unlink_disconnect", confirmed=True)
    await view_when(app, "U0ADA", offering_connect)


async def test_disconnect_needs_the_confirmation_then_unbinds_tells_and_republishes(
    running_app: RunningApp,
) -> None:
    app = running_app
    await bind(app, "ada", "U0ADA")
    view = await open_home(app, "U0ADA")
    assert connected(view)
    button = next(
        element
        for block in view["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == DISCONNECT_ACTION
    )
    assert button["confirm"]["text"]["text"].startswith("Disconnect your Slack account from Acme?")
    with pytest.raises(ValueError):  # Slack shows the dialog first: no click without it
        await app.fake.click_home("U0ADA", DISCONNECT_ACTION)
    assert bound(app, "U0ADA")

    before = len(app.fake.state.messages)
    outcome = await app.fake.click_home("U0ADA", DISCONNECT_ACTION, confirmed=True)
    assert outcome.acked
    dm = await next_dm(app, "U0ADA", before)
    assert "no longer connected to Acme" in dm.text
    await view_when(app, "U0ADA", offering_connect)
    assert not bound(app, "U0ADA")
    assert app.query(
        "SELECT username, slack_user_id, client FROM audit_events WHERE event = 'unbound'"
    ) == [("ada", "U0ADA", "slack:U0ADA")]
    assert app.query("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL") == [(0,)]
    await bind(app, "ada", "U0ADA")  # binding again works, and the tab shows it


async def test_a_click_acts_only_for_the_person_who_clicked(running_app: RunningApp) -> None:
    app = running_app
    await bind(app, "ada", "U0ADA")
    await bind(app, "grace", "U0GRACE")
    await open_home(app, "U0GRACE")
    before = len(app.fake.state.messages)
    await app.fake.click_home("U0GRACE", DISCONNECT_ACTION, confirmed=True)
    await next_dm(app, "U0GRACE", before)
    assert not bound(app, "U0GRACE") and bound(app, "U0ADA")
    assert not [m for m in app.fake.state.messages[before:] if m.user_id == "U0ADA"]


async def test_connect_for_someone_already_connected_says_so_and_refreshes_a_stale_tab(
    running_app: RunningApp,
) -> None:
    app = running_app
    assert offering_connect(await open_home(app, "U0ADA"))
    app.fake.fail("views.publish", "internal_error")  # the republish after binding fails
    await app.bind("ada", "U0ADA")
    await eventually(lambda: publishes(app, "U0ADA") >= 2, "the failed republish")
    assert offering_connect(app.fake.home_view("U0ADA"))  # stale

    before = len(app.fake.state.messages)
    await app.fake.click_home("U0ADA", CONNECT_ACTION)
    dm = await next_dm(app, "U0ADA", before)
    assert "already connected" in dm.text
    await view_when(app, "U0ADA", connected)
    assert app.query("SELECT count(*) FROM binding_requests WHERE used_at IS NULL") == [(0,)]


async def test_too_many_links_from_the_home_tab_are_refused_by_dm(tmp_path: Path) -> None:
    async with run_app(tmp_path, LINKS_PER_HOUR="1") as app:
        await open_home(app, "U0ADA")
        before = len(app.fake.state.messages)
        await app.fake.click_home("U0ADA", CONNECT_ACTION)
        find_link([await next_dm(app, "U0ADA", before)])
        before = len(app.fake.state.messages)
        await app.fake.click_home("U0ADA", CONNECT_ACTION)
        refused = await next_dm(app, "U0ADA", before)
        assert "too many" in refused.text.lower() or "again" in refused.text.lower()
        with pytest.raises(AssertionError):
            find_link([refused])
        assert app.query("SELECT count(*) FROM binding_requests") == [(1,)]


async def test_the_shortcut_dms_a_link_or_already_connected(tmp_path: Path) -> None:
    async with run_app(tmp_path, BINDING_TRIGGERS=ALL_TRIGGERS) as app:
        await app.add_user("ada")
        before = len(app.fake.state.messages)
        outcome = await app.fake.run_shortcut("U0ADA", "connect_account")
        assert outcome.acked and not outcome.ack_payload
        dm = await next_dm(app, "U0ADA", before)
        assert "shortcut" in str(dm.blocks) and "expires in 10 minutes" in str(dm.blocks)
        await connect_in_browser(app, "ada", find_link([dm]))
        await eventually(lambda: bound(app, "U0ADA"), "the binding")

        before = len(app.fake.state.messages)
        await app.fake.run_shortcut("U0ADA", "connect_account")
        again = await app.fake.wait_for_message(
            lambda m: m.user_id == "U0ADA" and "already connected" in m.text, PATIENCE, after=before
        )
        assert again.where == "dm"


async def test_without_the_home_and_shortcut_triggers_there_is_no_connect_button_and_the_shortcut_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with run_app(tmp_path, BINDING_TRIGGERS="command,link") as app:
        view = await open_home(app, "U0ADA")
        assert CONNECT_ACTION not in actions_of(view)
        assert "`/acme link`" in text_of(view)

        caplog.set_level(logging.INFO, "bolt_app")
        before = len(app.fake.state.messages)
        outcome = await app.fake.run_shortcut("U0ADA", "connect_account")
        assert outcome.acked
        await eventually(
            lambda: "no listener handles" in caplog.text, "the log of an unhandled shortcut"
        )
        # The link the command issues still works, and nothing else came.
        link = await app.link_for("U0ADA")
        assert link
        assert not app.fake.dms("U0ADA")
        assert app.query("SELECT count(*) FROM binding_requests") == [(1,)]
        assert len(app.fake.state.messages) == before + 1  # the command's own reply


async def test_a_failing_views_publish_is_logged_and_nothing_else_breaks(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = running_app
    app.fake.fail("views.publish", "internal_error")
    outcome = await app.fake.send_event(app.fake.app_home_opened_event("U0ADA"))
    assert outcome.acked
    await eventually(
        lambda: "Could not publish the Home tab of Slack user U0ADA" in caplog.text,
        "the failure logged",
    )
    assert app.fake.home_view("U0ADA") is None
    assert find_link(await app.command("U0ADA", "link"))  # the app carries on
    assert offering_connect(await open_home(app, "U0ADA"))  # and the next opening publishes


async def test_retried_and_repeated_events_are_acknowledged_and_change_nothing(
    running_app: RunningApp,
) -> None:
    """A redelivery (same event_id, retry_attempt) is acknowledged at once; handled again or
    dropped as a duplicate, it can only publish the same view."""
    app = running_app
    await bind(app, "ada", "U0ADA")
    first = await open_home(app, "U0ADA")
    event = app.fake.app_home_opened_event("U0ADA")
    for attempt in (1, 2):
        outcome = await app.fake.send_event(event, event_id="Ev0SAME", retry_attempt=attempt)
        assert outcome.acked and not outcome.ack_payload
    again = await open_home(app, "U0ADA")
    assert again["blocks"] == first["blocks"]
    assert app.query("SELECT count(*) FROM bindings") == [(1,)]


async def test_the_messages_tab_publishes_nothing(running_app: RunningApp) -> None:
    app = running_app
    outcome = await app.fake.send_event(app.fake.app_home_opened_event("U0ADA", tab="messages"))
    assert outcome.acked
    await open_home(app, "U0GRACE")  # a later event is handled, so the first one was too
    assert publishes(app, "U0ADA") == 0


async def test_events_and_clicks_from_outside_the_installation_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack delivers only what belongs to the installation: an event, a click or a shortcut
    naming another workspace is forged or misrouted, and does nothing (as for commands)."""
    from fake_slack import payloads

    caplog.set_level(logging.INFO, "bolt_app")
    async with run_app(tmp_path, BINDING_TRIGGERS=ALL_TRIGGERS) as app:
        await bind(app, "ada", "U0ADA")
        await open_home(app, "U0ADA")
        published, before = publishes(app, "U0ADA"), len(app.fake.state.messages)
        fake, ws = app.fake, app.fake.workspace

        event = fake.event_payload(fake.app_home_opened_event("U0ADA"))
        event.update(team_id="T0OTHER", context_team_id="T0OTHER")
        shortcut = payloads.global_shortcut(ws, "U0ADA", "connect_account")
        click = payloads.block_actions(
            ws,
            "U0ADA",
            {"action_id": DISCONNECT_ACTION, "block_id": "b", "type": "button"},
            container={"type": "view", "view_id": "V0"},
            extra={},
        )
        for payload in (shortcut, click):
            payload["user"]["team_id"] = "T0OTHER"
            payload["team"]["id"] = "T0OTHER"
        assert (await fake.send_envelope("events_api", event)).acked
        assert (await fake.send_envelope("interactive", shortcut)).acked
        assert (await fake.send_envelope("interactive", click)).acked

        await eventually(
            lambda: caplog.text.count("from team T0OTHER") == 3, "three refusals logged"
        )
        assert publishes(app, "U0ADA") == published
        assert len(app.fake.state.messages) == before  # no DM
        assert bound(app, "U0ADA")
        assert app.query("SELECT count(*) FROM binding_requests WHERE used_at IS NULL") == [(0,)]


async def test_on_enterprise_grid_the_home_tab_and_its_link_are_keyed_on_the_organisation(
    tmp_path: Path,
) -> None:
    from fake_slack.workspace import FakeUser

    async with run_app(tmp_path) as app:
        app.fake.join_org("E0ORG", "Acme Org", is_enterprise_install=True)
        app.fake.set_user(FakeUser("W0ADA", "ada", "Ada Lovelace", "ada@example.com", "Ada"))
        await app.add_user("ada")
        assert offering_connect(await open_home(app, "W0ADA"))
        before = len(app.fake.state.messages)
        await app.fake.click_home("W0ADA", CONNECT_ACTION)
        dm = await next_dm(app, "W0ADA", before)
        assert app.query("SELECT scope_id, slack_user_id, team_id FROM binding_requests") == [
            ("E0ORG", "W0ADA", "T0SANDBOX")
        ]
        await connect_in_browser(app, "ada", find_link([dm]))
        await view_when(app, "W0ADA", connected)
        assert app.query("SELECT scope_id, slack_user_id FROM bindings") == [("E0ORG", "W0ADA")]


async def test_after_the_workspace_joins_an_organisation_the_home_tab_still_shows_the_connection(
    running_app: RunningApp,
) -> None:
    """The binding made before the workspace joined moves to the organisation's key when the
    person opens the tab (settle_identity), so the tab shows it rather than offering Connect;
    and Disconnect there ends it."""
    app = running_app
    await bind(app, "ada", "U0ADA")
    app.fake.join_org("E0ORG", "Acme Org")
    view = await open_home(app, "U0ADA")
    assert connected(view), text_of(view)
    assert app.query("SELECT scope_id FROM bindings") == [("E0ORG",)]
    await app.fake.click_home("U0ADA", DISCONNECT_ACTION, confirmed=True)
    await view_when(app, "U0ADA", offering_connect)
    assert app.query("SELECT count(*) FROM bindings") == [(0,)]


async def test_an_expired_connection_shows_as_expired_with_connect(
    running_app: RunningApp,
) -> None:
    """Whatever the command would find (BindingService.bound_account): a token past its
    expiry ends the binding, and the tab says so."""
    app = running_app
    await bind(app, "ada", "U0ADA")
    with sqlite3.connect(app.settings.database) as db:
        db.execute("UPDATE api_tokens SET expires_at = 1")
    view = await open_home(app, "U0ADA")
    assert "has expired" in text_of(view) and CONNECT_ACTION in actions_of(view)
    assert not bound(app, "U0ADA")


async def test_a_stale_tabs_disconnect_never_removes_a_newer_connection(
    running_app: RunningApp,
) -> None:
    """A tab whose republish never reached the person (Slack refused it, say) still shows
    the binding they had; its Disconnect names that binding, so it leaves the one they made
    since alone, and the tab is republished as things stand."""
    app = running_app
    await bind(app, "ada", "U0ADA")
    stale = await open_home(app, "U0ADA")
    answer = await app.command("U0ADA", "unlink")
    asking = [m for m in answer if "unlink_disconnect" in str(m.blocks)]
    await app.fake.click("U0ADA", asking[-1], "unlink_disconnect", confirmed=True)
    await view_when(app, "U0ADA", offering_connect)
    await bind(app, "grace", "U0ADA")
    app.fake.state.home_views["U0ADA"] = stale  # the tab as the person still sees it

    before = publishes(app, "U0ADA")
    outcome = await app.fake.click_home("U0ADA", DISCONNECT_ACTION, confirmed=True)
    assert outcome.acked
    await eventually(lambda: publishes(app, "U0ADA") > before, "the tab republished")
    assert bound(app, "U0ADA")
    assert app.query(
        "SELECT users.username FROM bindings JOIN users ON users.id = bindings.user_id"
    ) == [("grace",)]
    assert "as *grace*" in text_of(app.fake.home_view("U0ADA"))
