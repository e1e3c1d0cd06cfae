"""Enterprise Grid end to end: the real app over Socket Mode, a fake Slack whose workspace is
moved into an organisation, Grid-shaped slash command payloads (`enterprise_id`, `W` user
IDs, `is_enterprise_install`), the real site and a real SQLite file."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import RunningApp, find_link, hidden_fields, run_app
from unbinding import disconnect, has_button

from bolt_app.messages import DISCONNECT_ACTION
from fake_slack import FakeSlack, FakeUser, Message

ORG, ORG_NAME = "E0ORG", "Acme Org"
HOME, SECOND = "T0SANDBOX", "T0SECOND"  # the fake's workspace, and another of the org
GRID_ADA = FakeUser("W0ADA", "ada", "Ada Lovelace", "ada@example.com", "Ada", other_teams=(SECOND,))


def move_into_org(fake: FakeSlack, *, org_wide: bool, team_id: str = HOME) -> None:
    """The fake's workspace (`team_id`) joins organisation ORG, as an org admin moves it
    (`FakeSlack.join_org`), with Ada's Grid account W0ADA in it and in SECOND; with
    `org_wide`, the app is installed on the whole organisation rather than the workspace."""
    if fake.workspace.team_id != team_id:
        as_workspace(fake, team_id)
    fake.join_org(ORG, ORG_NAME, is_enterprise_install=org_wide)
    fake.set_user(GRID_ADA)


def as_workspace(fake: FakeSlack, team_id: str) -> None:
    """The app now installed on workspace `team_id` (another workspace install sharing the
    database), outside any organisation."""
    fake.workspace = dataclasses.replace(
        fake.workspace, team_id=team_id, team_domain=team_id.lower()
    )


async def command_from(
    app: RunningApp, team_id: str, user_id: str, text: str
) -> tuple[str | None, list[Message]]:
    """`user_id` runs the command in workspace `team_id` (of the fake's organisation, if
    any): the acknowledgement's text and every message it produced."""
    before = len(app.fake.state.messages)
    payload = app.fake.slash_command_payload(user_id, text)
    payload["team_id"], payload["team_domain"] = team_id, team_id.lower()
    outcome = await app.fake.send_envelope("slash_commands", payload)
    assert outcome.acked
    if not outcome.ack_payload:
        await app.fake.wait_for_message(
            lambda m: m.user_id == user_id and m.source == "response_url", after=before
        )
    ack = outcome.ack_payload.get("text") if outcome.ack_payload else None
    return ack, app.fake.state.messages[before:]


def said(messages: list[Message]) -> str:
    return "\n".join(m.text for m in messages)


def auth_tests(fake: FakeSlack) -> int:
    return sum(call.method == "auth.test" for call in fake.state.api_calls)


@pytest.fixture
async def org_wide(tmp_path: Path) -> AsyncIterator[RunningApp]:
    async with run_app(tmp_path) as app:
        move_into_org(app.fake, org_wide=True)
        yield app


async def test_the_same_person_from_two_workspaces_of_an_org_is_one_binding(
    org_wide: RunningApp,
) -> None:
    app = org_wide
    await app.bind("ada", "W0ADA")  # from the fake's own workspace, T0SANDBOX
    assert app.query("SELECT scope_id, slack_user_id, team_id, enterprise_id FROM bindings") == [
        (ORG, "W0ADA", HOME, ORG)
    ]
    for team in (HOME, SECOND):
        _, messages = await command_from(app, team, "W0ADA", "whoami")
        assert "You are ada in Acme." in said(messages), team
    assert app.query("SELECT count(*) FROM binding_requests") == [(1,)]  # no second link
    # Unlinking from the other workspace ends the one binding (the click comes from there).
    _, messages = await command_from(app, SECOND, "W0ADA", "unlink")
    [question] = [m for m in messages if has_button(m, DISCONNECT_ACTION)]
    home = app.fake.workspace
    app.fake.workspace = dataclasses.replace(home, team_id=SECOND, team_domain=SECOND.lower())
    try:
        await disconnect(app, "W0ADA", question)
    finally:
        app.fake.workspace = home
    assert app.query("SELECT count(*) FROM bindings") == [(0,)]
    _, messages = await command_from(app, HOME, "W0ADA", "whoami")
    assert find_link(messages)


async def test_a_workspace_install_in_an_org_answers_its_workspace_only(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path) as app:
        move_into_org(app.fake, org_wide=False)
        ack, _ = await command_from(app, SECOND, "W0ADA", "link")
        assert ack and "installed for another Slack workspace" in ack
        assert app.query("SELECT count(*) FROM binding_requests") == [(0,)]
        # Its own workspace is answered, keyed on the organisation.
        assert find_link((await command_from(app, HOME, "W0ADA", "link"))[1])
        assert app.query("SELECT scope_id, team_id FROM binding_requests") == [(ORG, HOME)]


async def test_a_command_from_elsewhere_asks_slack_again_at_most_once_a_minute(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.command("U0ADA", "help")
    asked = auth_tests(app.fake)  # Bolt's own and the installation's
    for _ in range(3):
        ack, _ = await command_from(app, "T0ELSEWHERE", "U0ADA", "link")
        assert ack and "installed for another Slack workspace" in ack
    assert auth_tests(app.fake) == asked + 1  # asked again once; the answer had not changed
    assert app.query("SELECT count(*) FROM binding_requests") == [(0,)]


async def test_a_workspace_that_joins_an_org_keeps_its_bindings_and_links(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await app.add_user("grace")
    graces_link = await app.link_for("U0GRACE")  # issued before the workspace joined
    asked = auth_tests(app.fake)

    move_into_org(app.fake, org_wide=False)  # the workspace install, now in ORG
    messages = await app.command("U0ADA", "whoami")
    assert "You are ada in Acme." in said(messages)
    assert auth_tests(app.fake) == asked + 1  # the app asked Slack where it is installed now
    assert app.query(
        "SELECT scope_id, team_id, enterprise_id, team_name FROM bindings WHERE slack_user_id "
        "= 'U0ADA'"
    ) == [(ORG, HOME, ORG, ORG_NAME)]
    rekeyed = app.query(
        "SELECT username, scope_id, slack_user_id, client, detail FROM audit_events "
        "WHERE event = 'binding_rekeyed'"
    )
    assert len(rekeyed) == 1
    assert rekeyed[0][:4] == ("ada", ORG, "U0ADA", "slack:U0ADA")
    assert f"moved from workspace {HOME} to organisation {ORG}" in str(rekeyed[0][4])

    # Grace's link from before still binds, and her first command finds the binding.
    browser, page = await app.open_link_as("grace", graces_link)
    assert page.status_code == 200
    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200, done.text
    messages = await app.command("U0GRACE", "whoami")
    assert "You are grace in Acme." in said(messages)
    assert app.query("SELECT scope_id FROM bindings WHERE slack_user_id = 'U0GRACE'") == [(ORG,)]


async def test_two_bindings_that_come_under_one_key_keep_the_older_and_tell_the_person(
    running_app: RunningApp,
) -> None:
    """Ada bound from workspace T0SANDBOX as ada, and from workspace T0SECOND as bob, each a
    workspace install sharing the database; then both join ORG, with the app installed
    org-wide. Her commands from each workspace leave the older binding, ada's."""
    app = running_app
    await app.bind("ada", "U0ADA")
    as_workspace(app.fake, SECOND)
    await app.bind("bob", "U0ADA")
    assert app.query("SELECT scope_id FROM bindings ORDER BY id") == [(HOME,), (SECOND,)]

    move_into_org(app.fake, org_wide=True)
    _, messages = await command_from(app, HOME, "U0ADA", "whoami")
    assert "You are ada in Acme." in said(messages)
    assert app.query("SELECT scope_id, team_id FROM bindings ORDER BY id") == [
        (ORG, HOME),
        (SECOND, SECOND),
    ]
    before = len(app.fake.state.messages)
    _, messages = await command_from(app, SECOND, "U0ADA", "whoami")
    assert "You are ada in Acme." in said(messages)
    users = {name: user.id for name, user in app.users.items()}
    assert app.query("SELECT user_id, scope_id, team_id FROM bindings") == [
        (users["ada"], ORG, HOME)
    ]
    # Bob's token is revoked as unbinding revokes one; ada's works.
    assert app.query(
        "SELECT users.username, api_tokens.revoked_at IS NOT NULL FROM api_tokens JOIN users "
        "ON users.id = api_tokens.user_id ORDER BY api_tokens.id"
    ) == [("ada", 0), ("bob", 1)]
    merged = app.query(
        "SELECT username, scope_id, slack_user_id, detail FROM audit_events "
        "WHERE event = 'binding_merged'"
    )
    assert len(merged) == 1 and merged[0][:3] == ("bob", ORG, "U0ADA")
    assert "as ada" in str(merged[0][3]) and "removed binding" in str(merged[0][3])
    # The Slack person is told which account was kept and which connection removed.
    dm = await app.fake.wait_for_message(
        lambda m: m.where == "dm" and m.user_id == "U0ADA" and "twice" in m.text, after=before
    )
    blocks = " ".join(str(b) for b in dm.blocks)
    assert "*Kept:* the older connection, as *ada*" in blocks
    assert "*Removed:* the connection as *bob*" in blocks


def test_the_merge_dm_escapes_what_it_names() -> None:
    from bolt_app import messages

    for kept, removed in (("ada", "bob"), ("ada", "ada")):
        reply = messages.bindings_merged_dm("R&D <tools>", kept, 1_700_000_000, removed)
        rendered = reply.text + str(reply.blocks)
        assert "R&D" not in rendered and "<tools>" not in rendered
        assert "R&amp;D &lt;tools&gt;" in rendered
    hostile = messages.bindings_merged_dm("Acme", "<!channel>", 1_700_000_000, "a&b")
    assert "<!channel>" not in hostile.text + str(hostile.blocks)
