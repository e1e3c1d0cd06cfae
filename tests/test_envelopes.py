"""Every envelope is acknowledged, whatever is in it; malformed ones get a clear answer and
a log line; commands from outside the installation are refused. Raw payloads over the real
Socket Mode connection."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningApp, find_link, run_app

from fake_slack import NO_PAYLOAD, FakeSlack


def command_payload(fake: FakeSlack, **changes: Any) -> dict[str, Any]:
    """`/acme link` as Ada types it, with `changes` made (None removes a field)."""
    payload = fake.slash_command_payload("U0ADA", "link")
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team_id": None}, "team_id"),
        ({"team_id": ""}, "team_id"),
        ({"team_id": ["T0SANDBOX"]}, "team_id"),
        ({"user_id": None}, "user_id"),
        ({"user_id": 42}, "user_id"),
        ({"enterprise_id": {"id": "E0ORG"}}, "enterprise_id"),
        ({"enterprise_id": "not an id"}, "enterprise_id"),
        ({"text": {"a": 1}}, "text"),
        ({"user_name": ["ada"]}, "user_name"),
        ({"enterprise_name": 7}, "enterprise_name"),
        ({"command": "/acme <!channel>"}, "command"),
        ({"api_app_id": {"x": 1}}, "api_app_id"),
    ],
)
async def test_a_malformed_command_is_acknowledged_with_a_clear_error_and_logged(
    running_app: RunningApp,
    caplog: pytest.LogCaptureFixture,
    changes: dict[str, Any],
    field: str,
) -> None:
    app = running_app
    outcome = await app.fake.send_envelope("slash_commands", command_payload(app.fake, **changes))
    assert outcome.acked
    assert outcome.ack_payload and outcome.ack_payload.get("response_type") == "ephemeral"
    assert "form the app cannot read" in outcome.ack_payload["text"]
    assert f"missing or malformed fields: {field}" in caplog.text
    assert app.query("SELECT count(*) FROM binding_requests") == [(0,)]


async def test_envelopes_bolt_cannot_handle_are_still_acknowledged(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bolt_app")
    fake = running_app.fake
    for kind, payload in [
        ("interactive", {"type": "block_actions", "actions": "not a list"}),
        ("interactive", {"type": "block_actions", "team": 7, "user": "U0ADA"}),
        ("events_api", {"type": "event_callback", "event": "not an object"}),
        ("events_api", {}),
    ]:
        outcome = await fake.send_envelope(kind, payload)
        assert outcome.acked, (kind, payload)
    assert "Acknowledged an envelope of type events_api that no listener handles" in caplog.text


@pytest.mark.parametrize("kind", ["slash_commands", "events_api", "interactive", "odd_kind"])
@pytest.mark.parametrize(
    "payload",
    [None, [1, 2], 7, "text", True, NO_PAYLOAD],
    ids=["null", "list", "number", "string", "true", "missing"],
)
async def test_an_envelope_whose_payload_is_not_an_object_is_acknowledged_and_logged(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture, kind: str, payload: object
) -> None:
    app = running_app
    outcome = await app.fake.send_envelope(kind, payload)
    assert outcome.acked
    assert f"An envelope of type {kind!r} came with a payload that is" in caplog.text
    if kind == "slash_commands":
        assert outcome.ack_payload and outcome.ack_payload.get("response_type") == "ephemeral"
        assert "form the app cannot read" in outcome.ack_payload["text"]
    else:
        assert not outcome.ack_payload
    assert "Failed to run" not in caplog.text
    # The connection still serves commands.
    assert find_link(await app.command("U0ADA", "link"))


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, "team_id, user_id, command"),
        ({"team_id": "T0SANDBOX", "user_id": "U0ADA"}, "command"),
        ({"command": 5, "team_id": "T0SANDBOX", "user_id": "U0ADA"}, "command"),
        ({"command": "acme", "team_id": "T0SANDBOX", "user_id": "U0ADA"}, "command"),
    ],
)
async def test_a_slash_command_without_a_usable_command_gets_the_malformed_error(
    running_app: RunningApp,
    caplog: pytest.LogCaptureFixture,
    payload: dict[str, Any],
    fields: str,
) -> None:
    app = running_app
    outcome = await app.fake.send_envelope("slash_commands", payload)
    assert outcome.acked
    assert outcome.ack_payload and outcome.ack_payload.get("response_type") == "ephemeral"
    assert "form the app cannot read" in outcome.ack_payload["text"]
    assert f"Refused a slash command with missing or malformed fields: {fields}" in caplog.text
    # Also when the rest of the payload is Slack's own.
    without = command_payload(app.fake, command=None)
    outcome = await app.fake.send_envelope("slash_commands", without)
    assert outcome.ack_payload and "form the app cannot read" in outcome.ack_payload["text"]
    assert "missing or malformed fields: command" in caplog.text
    assert app.query("SELECT count(*) FROM binding_requests") == [(0,)]


async def test_a_command_from_another_workspace_is_refused(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = running_app
    outsider = command_payload(app.fake, team_id="T0ELSEWHERE", team_domain="elsewhere")
    outcome = await app.fake.send_envelope("slash_commands", outsider)
    assert outcome.acked and outcome.ack_payload
    assert "installed for another Slack workspace" in outcome.ack_payload["text"]
    assert "Refused /acme from team T0ELSEWHERE" in caplog.text
    assert app.query("SELECT count(*) FROM binding_requests") == [(0,)]
    # A workspace install on Enterprise Grid: the same team named in another organisation.
    grid = command_payload(app.fake, enterprise_id="E0OTHER", enterprise_name="Other")
    outcome = await app.fake.send_envelope("slash_commands", grid)
    assert outcome.ack_payload and "installed for another" in outcome.ack_payload["text"]
    # Its own workspace is answered.
    assert find_link(await app.command("U0ADA", "link"))


@pytest.fixture
async def org_wide_app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    """The app installed org-wide on an Enterprise Grid organisation E0ORG."""
    async with run_app(tmp_path) as app:
        app.fake.workspace = dataclasses.replace(
            app.fake.workspace,
            enterprise_id="E0ORG",
            enterprise_name="Org",
            is_enterprise_install=True,
        )
        yield app


async def test_an_org_wide_install_answers_its_organisation_only(
    org_wide_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = org_wide_app
    # Any workspace of the organisation is answered, with the identity keyed on it.
    other_workspace = command_payload(
        app.fake, team_id="T0SECOND", team_domain="second", enterprise_name="R&amp;D Org\u202e"
    )
    outcome = await app.fake.send_envelope("slash_commands", other_workspace)
    assert outcome.acked and outcome.ack_payload
    assert find_link([app.fake.state.messages[-1]])
    assert app.query("SELECT scope_id, team_id, team_name FROM binding_requests") == [
        ("E0ORG", "T0SECOND", "R&D Org")  # unescaped once and cleaned, for the page to escape
    ]
    # Another organisation, or none, is refused.
    for changes in (
        {"enterprise_id": "E0OTHER", "enterprise_name": "Other"},
        {"enterprise_id": None, "enterprise_name": None},
    ):
        outcome = await app.fake.send_envelope(
            "slash_commands", command_payload(app.fake, **changes)
        )
        assert outcome.ack_payload and "another Slack organisation" in outcome.ack_payload["text"]
    assert app.query("SELECT count(*) FROM binding_requests") == [(1,)]


async def test_a_command_without_a_response_url_is_acknowledged_and_logged(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    payload = app.fake.slash_command_payload("U0ADA", "todo")
    del payload["response_url"]
    outcome = await app.fake.send_envelope("slash_commands", payload)
    assert outcome.acked
    for _ in range(100):
        if "came without one" in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert "Could not answer through the response_url: the command came without one" in (
        caplog.text
    )
