"""The fake Slack's events, interactions and Home tab speak Slack's documented wire shapes,
checked with a plain Socket Mode client standing in for an app."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from fake_slack import FakeSlack, FakeUser, Message

BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Pick one"}},
    {
        "type": "actions",
        "block_id": "choices",
        "elements": [
            {
                "type": "button",
                "action_id": "go",
                "text": {"type": "plain_text", "text": "Go"},
                "value": "v1",
                "style": "primary",
            },
            {
                "type": "button",
                "action_id": "unbind",
                "text": {"type": "plain_text", "text": "Unbind"},
                "value": "v2",
                "style": "danger",
                "confirm": {
                    "title": {"type": "plain_text", "text": "Unbind?"},
                    "text": {"type": "plain_text", "text": "Your Slack account stops acting."},
                    "confirm": {"type": "plain_text", "text": "Unbind"},
                    "deny": {"type": "plain_text", "text": "Keep it"},
                },
            },
        ],
    },
]
HOME = {"type": "home", "callback_id": "home", "blocks": BUTTONS}


@dataclass
class App:
    """A stand-in app on the fake's Socket Mode: it acks every envelope (with `reply` as the
    ack's payload, if any) and keeps what it got."""

    ws: aiohttp.ClientWebSocketResponse
    http: aiohttp.ClientSession
    fake: FakeSlack
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    silent: bool = False

    async def serve(self) -> None:
        async for frame in self.ws:
            message = json.loads(frame.data)
            if "envelope_id" not in message:
                continue
            self.envelopes.append(message)
            if self.silent:
                continue
            ack: dict[str, Any] = {"envelope_id": message["envelope_id"]}
            if self.reply is not None:
                ack["payload"] = self.reply
            await self.ws.send_str(json.dumps(ack))

    async def api(self, method: str, **body: object) -> dict[str, Any]:
        headers = {"Authorization": "Bearer xoxb-1"}
        async with self.http.post(self.fake.api_url + method, json=body, headers=headers) as r:
            result = await r.json()
            assert isinstance(result, dict)
            return result

    async def post(self, url: str, body: dict[str, Any]) -> tuple[int, str]:
        async with self.http.post(url, json=body) as response:
            return response.status, await response.text()

    @property
    def last(self) -> dict[str, Any]:
        payload = self.envelopes[-1]["payload"]
        assert isinstance(payload, dict)
        return payload


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(bot_token="xoxb-1", app_token="xapp-1")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def app(fake: FakeSlack) -> AsyncIterator[App]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": "Bearer xapp-1"}
        async with http.post(fake.api_url + "apps.connections.open", headers=headers) as r:
            url = (await r.json())["url"]
        async with http.ws_connect(url) as ws:
            await ws.receive()  # hello
            app = App(ws, http, fake)
            serving = asyncio.create_task(app.serve())
            yield app
            serving.cancel()


async def ephemeral_with_buttons(fake: FakeSlack, app: App, user_id: str = "U0ADA") -> Message:
    """A slash command whose ack answers with the buttons: the ephemeral reply."""
    app.reply = {"response_type": "ephemeral", "text": "Pick one", "blocks": BUTTONS}
    await fake.send_slash_command(user_id, "x")
    app.reply = None
    return fake.ephemerals(user_id)[-1]


# Events API


async def test_an_event_arrives_in_an_events_api_envelope_around_slacks_wrapper(
    fake: FakeSlack, app: App
) -> None:
    outcome = await fake.send_event(fake.app_uninstalled_event())
    assert outcome.acked
    envelope = app.envelopes[-1]
    assert envelope["type"] == "events_api" and envelope["accepts_response_payload"] is False
    assert "retry_attempt" not in envelope and "retry_reason" not in envelope
    payload = envelope["payload"]
    assert payload["type"] == "event_callback"
    assert re.fullmatch(r"Ev[A-Z0-9]{8,}", payload["event_id"])
    assert isinstance(payload["event_time"], int)
    assert payload["team_id"] == "T0SANDBOX" and payload["api_app_id"] == "A0SANDBOX"
    assert payload["authorizations"] == [
        {
            "enterprise_id": None,
            "team_id": "T0SANDBOX",
            "user_id": "U0BOT",
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]
    assert payload["is_ext_shared_channel"] is False and payload["event_context"]
    assert payload["context_team_id"] == "T0SANDBOX" and payload["context_enterprise_id"] is None
    assert "enterprise_id" not in payload
    assert payload["event"]["type"] == "app_uninstalled"

    await fake.send_event(fake.app_uninstalled_event())
    assert app.last["event_id"] != payload["event_id"]  # a fresh one each time


async def test_a_retried_event_carries_its_attempt_and_the_first_event_id(
    fake: FakeSlack, app: App
) -> None:
    await fake.send_event(fake.app_uninstalled_event(), event_id="Ev0SAME", retry_attempt=2)
    envelope = app.envelopes[-1]
    assert envelope["retry_attempt"] == 2 and envelope["retry_reason"] == "timeout"
    assert envelope["payload"]["event_id"] == "Ev0SAME"


async def test_an_unacknowledged_event_shows_the_person_nothing(
    fake: FakeSlack, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fake_slack.server.ACK_TIMEOUT_SECONDS", 0.2)
    app.silent = True
    outcome = await fake.send_event(fake.app_home_opened_event("U0ADA"))
    assert not outcome.acked
    assert fake.state.messages == []


async def test_events_on_enterprise_grid_name_the_organisation(fake: FakeSlack, app: App) -> None:
    fake.join_org("E0ORG", "Org")
    await fake.send_event(fake.tokens_revoked_event(bot=True, oauth_user_ids=("U0ADA",)))
    payload = app.last
    assert payload["enterprise_id"] == "E0ORG" and payload["context_enterprise_id"] == "E0ORG"
    assert payload["authorizations"][0]["enterprise_id"] == "E0ORG"
    assert payload["authorizations"][0]["team_id"] == "T0SANDBOX"
    assert payload["authorizations"][0]["is_enterprise_install"] is False
    assert payload["event"]["tokens"] == {"oauth": ["U0ADA"], "bot": ["U0BOT"]}

    fake.join_org("E0ORG", "Org", is_enterprise_install=True)
    await fake.send_event(fake.app_uninstalled_event())
    authorization = app.last["authorizations"][0]
    assert authorization["is_enterprise_install"] is True and authorization["team_id"] is None


async def test_app_home_opened_carries_the_home_view_once_one_is_published(
    fake: FakeSlack, app: App
) -> None:
    first = fake.app_home_opened_event("U0ADA")
    assert first["type"] == "app_home_opened" and first["user"] == "U0ADA"
    assert first["channel"] == "D0ADA" and first["tab"] == "home" and first["event_ts"]
    assert "view" not in first
    assert (await app.api("views.publish", user_id="U0ADA", view=HOME))["ok"]
    again = fake.app_home_opened_event("U0ADA")
    assert again["view"]["id"] == fake.home_view("U0ADA")["id"]  # type: ignore[index]
    assert "view" not in fake.app_home_opened_event("U0ADA", tab="messages")


async def test_user_change_carries_the_full_user_and_a_deletion_reaches_users_info(
    fake: FakeSlack, app: App
) -> None:
    event = fake.user_change_event("U0GRACE")
    assert event["type"] == "user_change" and event["event_ts"] and event["cache_ts"]
    assert event["user"]["id"] == "U0GRACE" and event["user"]["deleted"] is False
    assert event["user"]["profile"]["email"] == "grace@example.com"
    assert event["user"]["team_id"] == "T0SANDBOX" and "enterprise_user" not in event["user"]

    gone = fake.user_change_event("U0GRACE", deleted=True)
    assert gone["user"]["deleted"] is True
    info = await app.api("users.info", user="U0GRACE")
    assert info["ok"] is True and info["user"]["deleted"] is True
    assert (await app.api("users.info", user="U0ADA"))["user"]["deleted"] is False


async def test_a_grid_user_has_a_w_id_and_slacks_enterprise_user(fake: FakeSlack, app: App) -> None:
    fake.join_org("E0ORG", "Org")
    fake.set_user(
        FakeUser("W0ZOE", "zoe", "Zoe", "zoe@example.com", is_admin=True, other_teams=("T0TWO",))
    )
    user = (await app.api("users.info", user="W0ZOE"))["user"]
    assert user["enterprise_user"] == {
        "id": "W0ZOE",
        "enterprise_id": "E0ORG",
        "enterprise_name": "Org",
        "is_admin": True,
        "is_owner": False,
        "is_primary_owner": False,
        "teams": ["T0SANDBOX", "T0TWO"],
    }
    assert fake.user_change_event("W0ZOE")["user"]["enterprise_user"]["enterprise_id"] == "E0ORG"
    posted = await app.api("chat.postMessage", channel="W0ZOE", text="hi")
    assert posted["channel"] == "D0ZOE"
    assert (await app.api("chat.postMessage", channel="D0ZOE", text="again"))["ok"]
    assert [m.text for m in fake.dms("W0ZOE")] == ["hi", "again"]


# block_actions from a message


async def test_a_click_on_an_ephemeral_message_sends_slacks_block_actions(
    fake: FakeSlack, app: App
) -> None:
    message = await ephemeral_with_buttons(fake, app)
    outcome = await fake.click("U0ADA", message, "go")
    assert outcome.acked
    envelope = app.envelopes[-1]
    assert envelope["type"] == "interactive" and envelope["accepts_response_payload"] is False
    payload = envelope["payload"]
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": "U0ADA",
        "username": "ada",
        "name": "ada",
        "team_id": "T0SANDBOX",
    }
    assert payload["api_app_id"] == "A0SANDBOX" and payload["token"]
    assert payload["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": "C0GENERAL",
        "is_ephemeral": True,
    }
    assert payload["team"] == {"id": "T0SANDBOX", "domain": "sandbox"}
    assert payload["enterprise"] is None and payload["is_enterprise_install"] is False
    assert payload["channel"] == {"id": "C0GENERAL", "name": "general"}
    assert "message" not in payload  # Slack leaves an ephemeral message out
    assert re.fullmatch(r"\d+\.\d+\.[0-9a-f]{32}", payload["trigger_id"])
    assert "/actions/T0SANDBOX/" in payload["response_url"]
    [action] = payload["actions"]
    assert action["action_id"] == "go" and action["block_id"] == "choices"
    assert action["type"] == "button" and action["value"] == "v1" and action["action_ts"]
    assert action["text"] == {"type": "plain_text", "text": "Go"}


async def test_a_click_on_a_dm_includes_the_message_and_grid_names_the_org(
    fake: FakeSlack, app: App
) -> None:
    fake.join_org("E0ORG", "Org")
    await app.api("chat.postMessage", channel="U0ADA", text="Pick one", blocks=BUTTONS)
    [message] = fake.dms("U0ADA")
    await fake.click("U0ADA", message, "go")
    payload = app.last
    assert payload["container"]["is_ephemeral"] is False
    assert payload["container"]["channel_id"] == "D0ADA"
    assert payload["channel"] == {"id": "D0ADA", "name": "directmessage"}
    assert payload["message"]["ts"] == message.ts and payload["message"]["blocks"] == BUTTONS
    assert payload["enterprise"] == {"id": "E0ORG", "name": "Org"}


async def test_a_button_with_a_confirm_dialog_is_sent_only_once_confirmed(
    fake: FakeSlack, app: App
) -> None:
    message = await ephemeral_with_buttons(fake, app)
    sent = len(app.envelopes)
    with pytest.raises(ValueError, match="confirm"):
        await fake.click("U0ADA", message, "unbind")
    assert len(app.envelopes) == sent
    await fake.click("U0ADA", message, "unbind", confirmed=True)
    assert app.last["actions"][0]["action_id"] == "unbind"


async def test_a_click_needs_the_element_and_a_message_the_person_sees(
    fake: FakeSlack, app: App
) -> None:
    message = await ephemeral_with_buttons(fake, app)
    with pytest.raises(ValueError, match="no element with action_id 'nope'"):
        await fake.click("U0ADA", message, "nope")
    with pytest.raises(ValueError, match="does not see"):
        await fake.click("U0GRACE", message, "go")  # Ada's ephemeral message


async def test_a_click_response_url_replaces_deletes_or_adds(fake: FakeSlack, app: App) -> None:
    message = await ephemeral_with_buttons(fake, app)
    await fake.click("U0ADA", message, "go")
    url = app.last["response_url"]

    assert await app.post(url, {"replace_original": True, "text": "Done"}) == (200, "ok")
    assert fake.ephemerals("U0ADA")[-1] is message
    assert message.text == "Done" and message.blocks == [] and message.replaced == 1

    assert await app.post(url, {"text": "And another thing"}) == (200, "ok")
    added = fake.ephemerals("U0ADA")[-1]
    assert added is not message and added.text == "And another thing"

    assert await app.post(url, {"delete_original": "true"}) == (200, "ok")
    assert message.deleted and message not in fake.ephemerals("U0ADA")
    assert message not in fake.messages_for("U0ADA")
    assert await app.post(url, {"delete_original": True}) == (404, "message_not_found")
    with pytest.raises(ValueError, match="does not see"):
        await fake.click("U0ADA", message, "go")

    # The same limit as a command's: 5 posts.
    await app.post(url, {"text": "4"})
    await app.post(url, {"text": "5"})
    assert await app.post(url, {"text": "6"}) == (404, "used_url")


async def test_a_command_response_url_replaces_the_commands_own_last_reply(
    fake: FakeSlack, app: App
) -> None:
    app.reply = {"text": "One moment"}
    await fake.send_slash_command("U0ADA", "x")
    url = app.last["response_url"]
    ack_reply = fake.ephemerals("U0ADA")[-1]
    assert await app.post(url, {"replace_original": True, "text": "Here it is"}) == (200, "ok")
    assert ack_reply.text == "Here it is" and ack_reply.replaced == 1
    assert len(fake.ephemerals("U0ADA")) == 1

    app.reply = None
    await fake.send_slash_command("U0ADA", "y")
    second = app.last["response_url"]
    assert await app.post(second, {"delete_original": True}) == (404, "message_not_found")
    # With nothing to replace, a replacement is a new message; then it is the one replaced.
    assert await app.post(second, {"replace_original": True, "text": "first"}) == (200, "ok")
    posted = fake.ephemerals("U0ADA")[-1]
    assert posted.text == "first" and posted.replaced == 0
    assert await app.post(second, {"replace_original": True, "text": "second"}) == (200, "ok")
    assert posted.text == "second" and posted.replaced == 1
    assert ack_reply.text == "Here it is"  # the other command's reply is untouched


# Home tab


async def test_views_publish_answers_with_the_view_and_keeps_its_id(
    fake: FakeSlack, app: App
) -> None:
    first = await app.api("views.publish", user_id="U0ADA", view=HOME)
    assert first["ok"] is True
    view = first["view"]
    assert re.fullmatch(r"V[A-Z0-9]{8,}", view["id"]) and view["hash"]
    assert view["type"] == "home" and view["blocks"] == BUTTONS
    assert view["team_id"] == "T0SANDBOX" and view["app_id"] == "A0SANDBOX"
    assert view["callback_id"] == "home" and view["state"] == {"values": {}}
    assert fake.home_view("U0ADA") == view
    assert fake.home_view("U0GRACE") is None
    assert [c.args["user_id"] for c in fake.state.api_calls if c.method == "views.publish"] == [
        "U0ADA"
    ]

    again = await app.api("views.publish", user_id="U0ADA", view=json.dumps(HOME))
    assert again["view"]["id"] == view["id"] and again["view"]["hash"] != view["hash"]
    stale = await app.api("views.publish", user_id="U0ADA", view=HOME, hash=view["hash"])
    assert stale == {"ok": False, "error": "hash_conflict"}
    fresh = await app.api("views.publish", user_id="U0ADA", view=HOME, hash=again["view"]["hash"])
    assert fresh["ok"] is True


@pytest.mark.parametrize(
    ("args", "error", "says"),
    [
        ({"view": HOME}, "invalid_arguments", "invalid `user_id`"),
        ({"user_id": "ada", "view": HOME}, "invalid_arguments", "invalid `user_id`"),
        ({"user_id": "U0NOBODY", "view": HOME}, "user_not_found", None),
        ({"user_id": "U0ADA"}, "invalid_arguments", "missing required field: view"),
        ({"user_id": "U0ADA", "view": "{not json"}, "invalid_arguments", "failed to parse"),
        ({"user_id": "U0ADA", "view": [1]}, "invalid_arguments", "must be an object"),
        (
            {"user_id": "U0ADA", "view": {**HOME, "type": "modal"}},
            "invalid_arguments",
            "/view/type",
        ),
        ({"user_id": "U0ADA", "view": {"type": "home"}}, "invalid_arguments", "blocks"),
        (
            {"user_id": "U0ADA", "view": {"type": "home", "blocks": [{"text": "x"}] * 2}},
            "invalid_arguments",
            "/view/blocks/1",
        ),
        (
            {"user_id": "U0ADA", "view": {"type": "home", "blocks": [{"type": "divider"}] * 101}},
            "invalid_arguments",
            "no more than 100",
        ),
        (
            {
                "user_id": "U0ADA",
                "view": {
                    "type": "home",
                    "blocks": [
                        {
                            "type": "actions",
                            "elements": [
                                {
                                    "type": "button",
                                    "action_id": "a",
                                    "text": {"type": "plain_text", "text": "x" * 76},
                                }
                            ],
                        }
                    ],
                },
            },
            "invalid_arguments",
            "less than 76",
        ),
        (
            {"user_id": "U0ADA", "view": {**HOME, "blocks": BUTTONS + BUTTONS[1:]}},
            "invalid_arguments",
            "duplicate block_id",
        ),
        (
            {"user_id": "U0ADA", "view": {**HOME, "blocks": BUTTONS * 1, "x": "y" * 260_000}},
            "view_too_large",
            None,
        ),
    ],
)
async def test_views_publish_refuses_what_slack_refuses(
    fake: FakeSlack, app: App, args: dict[str, object], error: str, says: str | None
) -> None:
    answer = await app.api("views.publish", **args)
    assert answer["ok"] is False and answer["error"] == error
    if says is not None:
        assert says in " ".join(answer["response_metadata"]["messages"])
    assert fake.home_view("U0ADA") is None


async def test_a_click_on_the_home_tab_sends_the_view_and_no_response_url(
    fake: FakeSlack, app: App
) -> None:
    with pytest.raises(ValueError, match="no Home tab"):
        await fake.click_home("U0ADA", "go")
    await app.api("views.publish", user_id="U0ADA", view=HOME)
    view = fake.home_view("U0ADA")
    assert view is not None
    with pytest.raises(ValueError, match="confirm"):
        await fake.click_home("U0ADA", "unbind")
    with pytest.raises(ValueError, match="no element"):
        await fake.click_home("U0ADA", "nope")
    assert (await fake.click_home("U0ADA", "go")).acked
    payload = app.last
    assert payload["type"] == "block_actions"
    assert payload["container"] == {"type": "view", "view_id": view["id"]}
    assert payload["view"]["id"] == view["id"] and payload["view"]["hash"] == view["hash"]
    assert payload["view"]["type"] == "home"
    assert "response_url" not in payload and "message" not in payload
    assert "channel" not in payload
    assert payload["user"]["id"] == "U0ADA" and payload["actions"][0]["value"] == "v1"
    await fake.click_home("U0ADA", "unbind", confirmed=True)
    assert app.last["actions"][0]["action_id"] == "unbind"


# global shortcut


async def test_a_global_shortcut_sends_slacks_shortcut_payload(fake: FakeSlack, app: App) -> None:
    assert (await fake.run_shortcut("U0GRACE", "bind_account")).acked
    envelope = app.envelopes[-1]
    assert envelope["type"] == "interactive"
    payload = envelope["payload"]
    assert payload["type"] == "shortcut" and payload["callback_id"] == "bind_account"
    assert payload["user"] == {"id": "U0GRACE", "username": "grace", "team_id": "T0SANDBOX"}
    assert payload["team"] == {"id": "T0SANDBOX", "domain": "sandbox"}
    assert payload["enterprise"] is None and payload["is_enterprise_install"] is False
    assert payload["trigger_id"] and payload["action_ts"] and payload["token"]
    assert "response_url" not in payload and "channel" not in payload

    fake.join_org("E0ORG", "Org")
    await fake.run_shortcut("U0GRACE", "bind_account")
    assert app.last["enterprise"] == {"id": "E0ORG", "name": "Org"}
    assert app.last["team"]["enterprise_id"] == "E0ORG"


async def test_slack_sdks_own_clients_publish_and_respond(fake: FakeSlack, app: App) -> None:
    """What Bolt's `client.views_publish` and `respond(...)` send, the fake understands."""
    from slack_sdk.web.async_client import AsyncWebClient
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    client = AsyncWebClient(token="xoxb-1", base_url=fake.api_url)
    published = await client.views_publish(user_id="U0ADA", view=HOME)
    assert published["view"]["id"] == fake.home_view("U0ADA")["id"]  # type: ignore[index]

    message = await ephemeral_with_buttons(fake, app)
    await fake.click("U0ADA", message, "go")
    webhook = AsyncWebhookClient(app.last["response_url"])
    answer = await webhook.send(text="Replaced", replace_original=True)
    assert answer.status_code == 200 and message.text == "Replaced"
    answer = await webhook.send(delete_original=True)
    assert answer.status_code == 200 and message.deleted
