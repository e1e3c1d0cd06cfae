"""The Home tab's view as a builder makes it, and who an interaction or event comes from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bolt_app.commands import Arguments, CommandContext, CommandPlugin, Subcommand, core
from bolt_app.commands.table import CommandTable
from bolt_app.home_tab import (
    CONNECT_ACTION,
    DISCONNECT_ACTION,
    MAX_VIEW_BLOCKS,
    HomeContent,
    HomeState,
    default_slash_command,
    home_view,
)
from bolt_app.interaction_payload import Interaction, MalformedInteraction

HOSTILE = "<!channel> <https://evil.example|click> & co"
ESCAPED = "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co"


async def _noop(ctx: CommandContext, args: Arguments) -> None:
    return None


NOTES = CommandPlugin("notes", [Subcommand("note add", "adds a note in {app}", _noop)])
TABLE = CommandTable([NOTES], first=core.FIRST, last=core.LAST)


def content(
    triggers: tuple[str, ...] = ("command", "link", "home"), table: CommandTable = TABLE
) -> HomeContent:
    return HomeContent(
        app_name="Acme", command="/acme", commands=table, triggers=triggers, link_ttl_seconds=600
    )


def elements(view: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for block in view["blocks"]:
        yield from block.get("elements", [])


def buttons(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for e in elements(view) if e.get("type") == "button"}


def texts(view: dict[str, Any]) -> str:
    """Every mrkdwn text of the view, in one string (headers are plain text, shown as
    typed)."""
    parts: list[str] = []
    for block in view["blocks"]:
        if block.get("text", {}).get("type") == "mrkdwn":
            parts.append(block["text"]["text"])
        parts.extend(e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn")
    return "\n".join(parts)


def test_a_person_not_connected_sees_connect_and_when_the_link_expires() -> None:
    view = home_view(HomeState(), content())
    assert view["type"] == "home"
    assert set(buttons(view)) == {CONNECT_ACTION}
    connect = buttons(view)[CONNECT_ACTION]
    assert connect["text"]["text"] == "Connect your Acme account"
    assert "url" not in connect and "value" not in connect  # the click acts for its clicker
    assert "not connected" in texts(view)
    assert "direct message" in texts(view) and "expires in 10 minutes" in texts(view)


def test_a_connected_person_sees_as_whom_since_when_and_disconnect_behind_a_confirmation() -> None:
    view = home_view(HomeState(username="ada", bound_at=1_700_000_000), content())
    assert set(buttons(view)) == {DISCONNECT_ACTION}
    assert "connected to Acme as *ada*" in texts(view)
    assert "<!date^1700000000^{date_short_pretty} at {time}|2023-11-14 22:13 UTC>" in texts(view)
    confirm = buttons(view)[DISCONNECT_ACTION]["confirm"]
    assert confirm["text"]["text"].startswith("Disconnect your Slack account from Acme?")
    assert confirm["confirm"]["text"] == "Disconnect" and confirm["deny"]["text"] == "Cancel"


def test_an_expired_connection_says_so_and_offers_connect() -> None:
    view = home_view(HomeState(expired=True), content())
    assert "has expired" in texts(view)
    assert set(buttons(view)) == {CONNECT_ACTION}


@pytest.mark.parametrize(
    ("triggers", "how"),
    [
        (("command", "link"), "run `/acme link`"),
        (("command",), "run any `/acme` command"),
        (("shortcut",), "*Connect account*"),
    ],
)
def test_without_the_home_trigger_there_is_no_connect_button_but_the_way_that_is_on(
    triggers: tuple[str, ...], how: str
) -> None:
    view = home_view(HomeState(), content(triggers))
    assert CONNECT_ACTION not in buttons(view)
    assert how in texts(view)
    # Disconnect does not depend on the triggers: it ends a binding however it was made.
    connected = home_view(HomeState(username="ada", bound_at=1), content(triggers))
    assert set(buttons(connected)) == {DISCONNECT_ACTION}


def test_the_tab_says_link_works_before_connecting_only_when_it_is_on() -> None:
    with_link = texts(home_view(HomeState(), content(("command", "link", "home"))))
    assert "`/acme help` and `/acme link` work before you connect" in with_link
    without = texts(home_view(HomeState(), content(("home", "shortcut"))))
    assert "`/acme help` works before you connect" in without
    assert "`/acme link` work" not in without


def test_the_commands_are_the_helps_lines_from_the_table() -> None:
    shown = texts(home_view(HomeState(username="ada", bound_at=1), content()))
    for line in (
        "`/acme whoami` shows your Acme account",
        "`/acme note add` adds a note in Acme",
        "`/acme link` connects your Slack account to Acme",
        "`/acme unlink` disconnects it",
        "`/acme help` shows this help",
    ):
        assert line in shown


def test_names_and_plugin_help_are_escaped() -> None:
    hostile_plugin = CommandPlugin("bad", [Subcommand("bad", "says " + HOSTILE, _noop)])
    table = CommandTable([hostile_plugin], first=core.FIRST, last=core.LAST)
    hostile_app = HomeContent(
        app_name=HOSTILE, command="/acme", commands=table, triggers=("home",), link_ttl_seconds=60
    )
    for view in (
        home_view(HomeState(username=HOSTILE, bound_at=1), content(table=table)),
        home_view(HomeState(), hostile_app),
        home_view(HomeState(username="ada", bound_at=1), hostile_app),
    ):
        mrkdwn = texts(view) + str(
            [b["confirm"]["text"]["text"] for b in buttons(view).values() if "confirm" in b]
        )
        assert "<!channel>" not in mrkdwn and "<https://evil" not in mrkdwn
        assert ESCAPED in mrkdwn


def test_a_huge_command_table_still_fits_slacks_limits() -> None:
    plugins = [
        CommandPlugin(f"p{n}", [Subcommand(f"cmd{n} x{m}", "h" * 150, _noop) for m in range(10)])
        for n in range(60)
    ]
    table = CommandTable(plugins, first=core.FIRST, last=core.LAST)
    view = home_view(HomeState(), content(table=table))
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    long_name = HomeContent(
        app_name="A" * 500, command="/a", commands=TABLE, triggers=("home",), link_ttl_seconds=60
    )
    for state in (HomeState(), HomeState(username="ada", bound_at=1)):
        for button in buttons(home_view(state, long_name)).values():
            assert len(button["text"]["text"]) <= 75
            if "confirm" in button:
                assert len(button["confirm"]["text"]["text"]) <= 300


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("Acme", "/acme"),
        ("Acme Corp!", "/acme-corp"),
        ("Ünïcode", "/unicode"),
        ("!!!", "/account-binding"),
        ("x" * 40, "/" + "x" * 31),
    ],
)
def test_the_default_slash_command_follows_the_app_name(name: str, command: str) -> None:
    assert default_slash_command(name) == command


def block_actions(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0ADA", "username": "ada", "name": "ada", "team_id": "T0ACME"},
        "team": {"id": "T0ACME", "domain": "acme"},
        "enterprise": None,
        "api_app_id": "A0APP",
        "actions": [{"action_id": DISCONNECT_ACTION, "value": "U0GRACE"}],
    }
    payload.update(overrides)
    return payload


def test_an_interaction_acts_for_the_user_who_clicked_not_a_value_it_carries() -> None:
    clicked = Interaction.from_interaction(block_actions())
    assert clicked.identity.user_id == "U0ADA"
    assert clicked.identity.scope_id == "T0ACME" and clicked.identity.enterprise_id is None
    assert clicked.profile.user_name == "ada" and clicked.profile.team_name == "acme"


def test_an_enterprise_grid_interaction_is_keyed_on_the_organisation() -> None:
    clicked = Interaction.from_interaction(
        block_actions(
            user={"id": "W0ADA", "username": "ada", "team_id": "T0ONE"},
            team=None,
            enterprise={"id": "E0ORG", "name": "Acme Org"},
        )
    )
    assert clicked.identity.user_id == "W0ADA"
    assert clicked.identity.scope_id == "E0ORG" and clicked.identity.team_id == "T0ONE"
    assert clicked.profile.team_name == "Acme Org"


@pytest.mark.parametrize(
    "payload",
    [
        block_actions(user={"username": "ada", "team_id": "T0ACME"}),
        block_actions(user={"id": "U0ADA; DROP", "team_id": "T0ACME"}),
        block_actions(user={"id": "U0ADA"}, team=None),
        block_actions(enterprise={"id": 7}),
        "not an object",
    ],
)
def test_a_malformed_interaction_is_refused(payload: object) -> None:
    with pytest.raises(MalformedInteraction):
        Interaction.from_interaction(payload)


def test_an_event_names_its_user_and_workspace() -> None:
    body = {
        "team_id": "T0ACME",
        "enterprise_id": "E0ORG",
        "context_team_id": "T0ONE",
        "api_app_id": "A0APP",
        "event": {"type": "app_home_opened", "user": "W0ADA", "tab": "home"},
    }
    opened = Interaction.from_event(body)
    assert opened.identity.user_id == "W0ADA"
    assert opened.identity.team_id == "T0ONE" and opened.identity.scope_id == "E0ORG"
    with pytest.raises(MalformedInteraction):
        Interaction.from_event({**body, "event": {"type": "app_home_opened"}})


def test_the_checked_in_manifest_has_the_home_tab_and_its_event(project_root: Path) -> None:
    """The default BINDING_TRIGGERS (command,link,home) need the Home tab and app_home_opened;
    the shortcut only when BINDING_TRIGGERS lists it."""
    manifest = yaml.safe_load((project_root / "manifest.yml").read_text())
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert "shortcuts" not in manifest["features"]
