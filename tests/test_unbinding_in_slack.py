"""Disconnecting in Slack through the real app and the fake Slack (issue 10): `unlink` asks,
Disconnect unbinds (revoking the token, audited, a DM), Keep it changes nothing; a click acts
only for the person who clicked, and only on the connection the question named."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from conftest import RunningApp, csrf_of, find_link, login, run_app
from unbinding import button, disconnect, has_button, keep, unlink_question

from bolt_app.messages import DISCONNECT_ACTION, KEEP_ACTION


def bindings(app: RunningApp) -> list[tuple[object, ...]]:
    return app.query("SELECT slack_user_id, user_id FROM bindings ORDER BY slack_user_id")


def unbound_rows(app: RunningApp) -> list[tuple[object, ...]]:
    return app.query(
        "SELECT username, scope_id, slack_user_id, client, detail FROM audit_events "
        "WHERE event = 'unbound' ORDER BY id"
    )


def dms_saying(app: RunningApp, user_id: str, words: str) -> int:
    return sum(1 for m in app.fake.dms(user_id) if words in m.text)


async def test_unlink_asks_then_disconnect_unbinds_revokes_replaces_and_tells_the_person(
    running_app: RunningApp,
) -> None:
    app = running_app
    token = await app.bind("ada", "U0ADA")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await app.http.get("/api/me", headers=bearer)).status_code == 200

    question = await unlink_question(app, "U0ADA")
    assert question.where == "ephemeral" and question.user_id == "U0ADA"
    assert question.text == "Disconnect your Slack account from Acme (connected as ada)?"
    disconnect_button = button(question, DISCONNECT_ACTION)
    assert disconnect_button["style"] == "danger"
    assert disconnect_button["text"] == {"type": "plain_text", "text": "Disconnect"}
    assert button(question, KEEP_ACTION)["text"] == {"type": "plain_text", "text": "Keep it"}
    assert "confirm" not in disconnect_button  # the question is the confirmation
    assert bindings(app) == [("U0ADA", app.users["ada"].id)]  # asking changes nothing

    await disconnect(app, "U0ADA", question)
    assert question.replaced == 1  # in place of the question, not a new message
    assert question.text.startswith("Disconnected from Acme")
    assert not has_button(question, DISCONNECT_ACTION)
    assert "`/acme link`" in str(question.blocks)
    assert bindings(app) == []
    assert (await app.http.get("/api/me", headers=bearer)).status_code == 401
    assert unbound_rows(app) == [("ada", "T0SANDBOX", "U0ADA", "slack:U0ADA", None)]
    await app.fake.wait_for_message(
        lambda m: m.where == "dm" and m.user_id == "U0ADA" and "no longer connected" in m.text
    )


async def test_keep_it_changes_nothing(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    question = await unlink_question(app, "U0ADA")
    await keep(app, "U0ADA", question)
    assert question.text == "Nothing was changed." and question.replaced == 1
    assert not has_button(question, DISCONNECT_ACTION)
    assert bindings(app) == [("U0ADA", app.users["ada"].id)]
    assert unbound_rows(app) == []
    await asyncio.sleep(0.3)  # a DM would have been sent by now
    assert dms_saying(app, "U0ADA", "no longer connected") == 0
    answer = await app.command("U0ADA", "whoami")
    assert "You are ada in Acme." in answer[-1].text


async def test_unlink_when_not_connected_says_so_without_buttons(running_app: RunningApp) -> None:
    app = running_app
    [reply] = await app.command("U0ADA", "unlink")
    assert "was not connected to Acme" in reply.text
    assert not has_button(reply, DISCONNECT_ACTION) and not has_button(reply, KEEP_ACTION)


async def test_a_click_acts_only_for_the_person_who_clicked(running_app: RunningApp) -> None:
    """The button's value names a binding, never a person: Grace's click carrying Ada's
    binding (a forged value; Slack shows Ada's question to Ada alone) removes nothing."""
    app = running_app
    await app.bind("ada", "U0ADA")
    await app.bind("grace", "U0GRACE")
    adas = await unlink_question(app, "U0ADA")
    graces = await unlink_question(app, "U0GRACE")
    with pytest.raises(ValueError, match="does not see"):  # as in Slack: not her message
        await app.fake.click("U0GRACE", adas, DISCONNECT_ACTION)
    button(graces, DISCONNECT_ACTION)["value"] = button(adas, DISCONNECT_ACTION)["value"]
    await disconnect(app, "U0GRACE", graces)
    assert "nothing was changed" in graces.text
    assert bindings(app) == [("U0ADA", app.users["ada"].id), ("U0GRACE", app.users["grace"].id)]
    assert unbound_rows(app) == []
    # Ada's own click on her question does disconnect her.
    await disconnect(app, "U0ADA", adas)
    assert bindings(app) == [("U0GRACE", app.users["grace"].id)]


async def test_a_stale_question_never_disconnects_a_newer_connection(
    running_app: RunningApp,
) -> None:
    """Ada asks twice, disconnects with the second question and connects again: the newer
    binding reuses the integer ID of the old one, but the first question, pressed now, leaves
    it alone and says so."""
    app = running_app
    await app.bind("ada", "U0ADA")
    [(old_id,)] = app.query("SELECT id FROM bindings")
    stale = await unlink_question(app, "U0ADA")
    await disconnect(app, "U0ADA")
    assert bindings(app) == []
    assert find_link(await app.command("U0ADA", "whoami"))  # a command, then bind again
    await app.bind("ada", "U0ADA")
    assert app.query("SELECT id FROM bindings") == [(old_id,)]  # the same integer ID
    dms_before = dms_saying(app, "U0ADA", "no longer connected")

    await disconnect(app, "U0ADA", stale)
    assert "earlier connection" in stale.text and "nothing was changed" in stale.text
    assert "connected again since, as *ada*" in str(stale.blocks)
    assert "`/acme unlink`" in str(stale.blocks)
    assert bindings(app) == [("U0ADA", app.users["ada"].id)]
    assert len(unbound_rows(app)) == 1  # the first Disconnect only
    await asyncio.sleep(0.3)
    assert dms_saying(app, "U0ADA", "no longer connected") == dms_before
    answer = await app.command("U0ADA", "whoami")
    assert "You are ada in Acme." in answer[-1].text


async def test_a_click_after_the_connection_was_removed_meanwhile_says_so(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    question = await unlink_question(app, "U0ADA")
    browser = app.browser()  # removed on the web page meanwhile
    await login(browser, "ada", next_path="/connections")
    listed = await browser.get("/connections")
    path = re.search(r'href="(/connections/[0-9a-f]{32}/remove)"', listed.text)
    assert path
    asked = await browser.get(path.group(1))
    assert (await browser.post(path.group(1), data={"csrf_token": csrf_of(asked)})).is_success
    await app.fake.wait_for_message(lambda m: m.where == "dm" and "no longer" in m.text)

    await disconnect(app, "U0ADA", question)
    assert "no longer connected to Acme" in question.text and "already" in question.text
    assert len(unbound_rows(app)) == 1
    await asyncio.sleep(0.3)
    assert dms_saying(app, "U0ADA", "no longer connected") == 1  # the web removal's only


async def test_binding_again_after_unlink_works(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await disconnect(app, "U0ADA")
    again = await app.command("U0ADA", "todo")
    assert "first connect your Slack account" in again[-1].text + str(again[-1].blocks)
    assert find_link(again)
    await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", "whoami")
    assert "You are ada in Acme." in answer[-1].text


async def test_disconnect_on_enterprise_grid(tmp_path: Path) -> None:
    """Bindings are keyed on the organisation: the click's `enterprise` object counts."""
    async with run_app(tmp_path) as app:
        app.fake.join_org("E0ORG", "Acme Org")
        await app.bind("ada", "U0ADA")
        assert app.query("SELECT scope_id FROM bindings") == [("E0ORG",)]
        await disconnect(app, "U0ADA")
        assert bindings(app) == []
        assert unbound_rows(app) == [("ada", "E0ORG", "U0ADA", "slack:U0ADA", None)]


async def test_a_question_asked_before_the_workspace_joined_an_organisation_still_works(
    tmp_path: Path,
) -> None:
    """The click comes keyed on the organisation; the binding moves to it first (keeping its
    public ID), and the question's Disconnect then removes it."""
    async with run_app(tmp_path) as app:
        await app.bind("ada", "U0ADA")
        question = await unlink_question(app, "U0ADA")
        app.fake.join_org("E0ORG", "Acme Org")
        await disconnect(app, "U0ADA", question)
        assert question.text.startswith("Disconnected from Acme")
        assert bindings(app) == []
        assert unbound_rows(app) == [("ada", "E0ORG", "U0ADA", "slack:U0ADA", None)]


async def test_commands_note_when_the_binding_was_last_used(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await unlink_question(app, "U0ADA")  # asking is not a use
    await app.command("U0ADA", "help")  # nor is help
    await asyncio.sleep(0.3)
    assert app.query("SELECT last_used_at FROM bindings") == [(None,)]
    await app.command("U0ADA", "todo")  # a plugin's command is
    for _ in range(200):
        [(used,)] = app.query("SELECT last_used_at FROM bindings")
        if used is not None:
            break
        await asyncio.sleep(0.025)
    assert isinstance(used, int)


async def test_a_click_without_a_usable_user_is_acknowledged_and_changes_nothing(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    value = button(await unlink_question(app, "U0ADA"), DISCONNECT_ACTION)["value"]
    action = {"type": "button", "action_id": DISCONNECT_ACTION, "value": value}
    for user in (None, {"id": "U0ADA"}, {"id": ["U0ADA"], "team_id": "T0SANDBOX"}, "U0ADA"):
        payload = {"type": "block_actions", "team": {}, "actions": [action], "user": user}
        outcome = await app.fake.send_envelope("interactive", payload)
        assert outcome.acked
    await asyncio.sleep(0.3)
    assert bindings(app) == [("U0ADA", app.users["ada"].id)]
    assert "Refused a Disconnect click with missing or malformed fields" in caplog.text


def test_the_answers_escape_what_people_and_administrators_chose() -> None:
    from bolt_app import messages

    for reply in (
        messages.unlink_question_reply("R&D <tools>", "<!channel>", "a" * 32, "/r&d"),
        messages.disconnected_reply("R&D <tools>", "/r&d"),
        messages.already_disconnected_reply("R&D <tools>"),
        messages.stale_question_reply("R&D <tools>", "<!channel>", "/r&d"),
    ):
        mrkdwn = reply.text + str([b for b in reply.blocks if b.get("type") != "actions"])
        assert "R&D" not in mrkdwn and "<tools>" not in mrkdwn and "<!channel>" not in mrkdwn
        assert "/r&d" not in mrkdwn


def test_a_click_names_its_person_from_the_payload_and_its_binding_from_the_value() -> None:
    from bolt_app.listeners.actions.disconnect import MalformedClick, _value, clicked_by

    grid = clicked_by({"user": {"id": "W0ADA", "team_id": "T0ONE"}, "enterprise": {"id": "E0ORG"}})
    assert (grid.scope_id, grid.team_id, grid.user_id) == ("E0ORG", "T0ONE", "W0ADA")
    plain = clicked_by({"user": {"id": "U0ADA"}, "team": {"id": "T0SANDBOX"}, "enterprise": None})
    assert (plain.scope_id, plain.enterprise_id) == ("T0SANDBOX", None)
    for bad in ({"user": {"id": "U 1", "team_id": "T1"}}, {"user": {"id": "U1"}, "team": "T1"}):
        with pytest.raises(MalformedClick):
            clicked_by(bad)
    with pytest.raises(MalformedClick):
        clicked_by({"user": {"id": "U1", "team_id": "T1"}, "enterprise": {"id": 7}})
    public_id = "0123456789abcdef" * 2
    assert _value({"actions": [{"value": f"{public_id} /acme"}]}) == (public_id, "/acme")
    for command in ("/ac<me>", "acme", "/" + "a" * 40, "/acmé"):
        assert _value({"actions": [{"value": f"{public_id} {command}"}]}) == (public_id, None)
    assert _value({"actions": []}) == ("", None)
    assert _value({"actions": [{"value": 7}]}) == ("", None)


async def test_the_home_tab_follows_disconnect_and_remove_on_the_web(
    running_app: RunningApp,
) -> None:
    from test_app_home import bind as bind_and_see
    from test_app_home import connected, offering_connect, open_home, view_when

    app = running_app
    await open_home(app, "U0ADA")
    await bind_and_see(app, "ada", "U0ADA")
    await disconnect(app, "U0ADA")
    await view_when(app, "U0ADA", offering_connect)

    await bind_and_see(app, "ada", "U0ADA")
    assert connected(app.fake.home_view("U0ADA") or {})
    browser = app.browser()
    await login(browser, "ada", next_path="/connections")
    path = re.search(
        r'href="(/connections/[0-9a-f]{32}/remove)"', (await browser.get("/connections")).text
    )
    assert path
    asked = await browser.get(path.group(1))
    assert (await browser.post(path.group(1), data={"csrf_token": csrf_of(asked)})).is_success
    await view_when(app, "U0ADA", offering_connect)
