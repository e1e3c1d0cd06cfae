"""Attack demonstrations (review of issue 10): malformed or hostile Slack payloads and web
addresses. Each test asserts what a robust app must do; a failure is a finding."""

from __future__ import annotations

import asyncio
import copy
import logging

import pytest
from conftest import RunningApp

from bolt_app.home_tab import CONNECT_ACTION
from bolt_app.home_tab import DISCONNECT_ACTION as HOME_DISCONNECT
from bolt_app.messages import DISCONNECT_ACTION, KEEP_ACTION, OPEN_LINK_ACTION
from fake_slack import payloads

ADA = "U0ADA"


def ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Tracebacks that pass through the product's own listeners (Bolt's own parsing of a
    body Slack never sends is acknowledged by design)."""
    import traceback

    found = []
    for r in caplog.records:
        if r.exc_info:
            text = "".join(traceback.format_exception(*r.exc_info))
            if (
                "bolt_app/listeners" in text
                or "account_binding/" in text
                or "bolt_app/lifecycle" in text
            ):
                found.append(text[-1500:])
    return found


def base_click(app: RunningApp, action_id: str, value: object = "x") -> dict:
    ws = app.fake.workspace
    return payloads.block_actions(
        ws,
        ADA,
        {"type": "button", "action_id": action_id, "block_id": "b", "value": value},
        container={
            "type": "message",
            "message_ts": "1.2",
            "channel_id": "C1",
            "is_ephemeral": True,
        },
        extra={"channel": {"id": "C1"}, "response_url": "", "state": {"values": {}}},
    )


def mutations(body: dict) -> list[dict]:
    out = []
    for key in (
        "user",
        "team",
        "enterprise",
        "actions",
        "container",
        "channel",
        "response_url",
        "api_app_id",
    ):
        for bad in (
            None,
            5,
            "x",
            [],
            [1],
            {"id": 5},
            {"id": ["U0ADA"]},
            {"id": "u0ada"},
            {"id": "U" * 500},
        ):
            b = copy.deepcopy(body)
            b[key] = bad
            out.append(b)
    for bad in (None, 5, [], {"a": 1}, "x" * 100000, "0" * 64, "a" * 64, "\u202e" * 10):
        b = copy.deepcopy(body)
        b["actions"][0]["value"] = bad
        out.append(b)
    b = copy.deepcopy(body)
    b["user"]["team_id"] = {"nested": True}
    out.append(b)
    b = copy.deepcopy(body)
    b["user"]["username"] = ["list"]
    b["user"]["name"] = 5
    b["team"]["domain"] = {"x": 1}
    out.append(b)
    return out


@pytest.mark.parametrize(
    "action_id", [OPEN_LINK_ACTION, DISCONNECT_ACTION, KEEP_ACTION, CONNECT_ACTION, HOME_DISCONNECT]
)
async def test_malformed_clicks_are_acknowledged_and_never_raise(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture, action_id: str
) -> None:
    app = running_app
    caplog.set_level(logging.WARNING)
    for body in mutations(base_click(app, action_id)):
        outcome = await app.fake.send_envelope("interactive", body)
        assert outcome.acked, body
    await asyncio.sleep(0.5)
    assert not ours(caplog), ours(caplog)[:3]
    # and the app still answers
    outcome = await app.fake.send_slash_command(ADA, "help")
    assert outcome.acked


async def test_malformed_lifecycle_events_are_acknowledged_and_never_raise(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = running_app
    caplog.set_level(logging.WARNING)
    events = []
    for user in (
        None,
        5,
        "U0ADA",
        [],
        {"id": 5, "deleted": True},
        {"deleted": True},
        {"id": "U0ADA", "deleted": True, "enterprise_user": "x"},
        {"id": "U0ADA", "deleted": True, "team_id": ["T"]},
    ):
        events.append({"type": "user_change", "user": user})
    for tokens in (None, 5, [], {"bot": "B"}, {"bot": [5]}, {"oauth": {"x": 1}}):
        events.append({"type": "tokens_revoked", "tokens": tokens})
    events.append({"type": "app_home_opened", "user": 5, "tab": ["home"]})
    events.append({"type": "app_home_opened", "user": "U0ADA", "tab": "home", "view": 5})
    for event in events:
        # Each variant a delivery of its own (a fresh event_id): a repeated one is dropped
        # before Bolt sees it (issue 11).
        fresh = app.fake.event_payload
        for variant in (
            fresh(event),
            {**fresh(event), "authorizations": 5},
            {**fresh(event), "authorizations": [5]},
            {**fresh(event), "team_id": 5, "enterprise_id": []},
            {**fresh(event), "event_id": 7},
        ):
            outcome = await app.fake.send_envelope("events_api", variant)
            assert outcome.acked, variant
    await asyncio.sleep(0.5)
    assert not ours(caplog), ours(caplog)[:3]
    # and the app still answers
    outcome = await app.fake.send_slash_command(ADA, "help")
    assert outcome.acked


async def test_connection_addresses_of_any_shape_are_never_500(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("alice", ADA)
    from conftest import login

    browser = app.browser()
    await login(browser, "alice")
    for public_id in (
        "A" * 32,
        "0" * 32,
        "g" * 32,
        "0" * 5000,
        "%00",
        "..%2f..%2f",
        "%ff" * 16,
        "0" * 31 + "%0a",
        "\u202e" * 32,
        "0" * 32 + "/x",
    ):
        for method in ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"):
            response = await browser.request(
                method,
                f"/connections/{public_id}/remove",
                data={"csrf_token": "x"} if method == "POST" else None,
            )
            assert response.status_code < 500, (method, public_id, response.status_code)
    assert app.query("SELECT count(*) FROM bindings") == [(1,)]
