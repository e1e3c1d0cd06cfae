"""The fake Slack speaks Slack's documented wire protocol, checked with a plain client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from fake_slack import FakeSlack, FakeWorkspace


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(bot_token="xoxb-1", app_token="xapp-1")
    await fake.start()
    yield fake
    await fake.stop()


async def call(
    session: aiohttp.ClientSession, fake: FakeSlack, method: str, token: str | None, **body: object
) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.post(fake.api_url + method, json=body, headers=headers) as response:
        result = await response.json()
        assert isinstance(result, dict)
        return result


async def test_web_api_checks_tokens_like_slack(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        assert await call(session, fake, "auth.test", None) == {"ok": False, "error": "not_authed"}
        assert await call(session, fake, "auth.test", "xoxb-wrong") == {
            "ok": False,
            "error": "invalid_auth",
        }
        assert (await call(session, fake, "auth.test", "xapp-1"))[
            "error"
        ] == "not_allowed_token_type"
        me = await call(session, fake, "auth.test", "xoxb-1")
        assert me["ok"] is True and me["team_id"] == "T0SANDBOX" and me["user_id"] == "U0BOT"
        assert (await call(session, fake, "apps.connections.open", "xoxb-1"))[
            "error"
        ] == "not_allowed_token_type"
        assert (await call(session, fake, "chat.nope", "xoxb-1"))["error"] == "unknown_method"


async def test_chat_post_message_to_a_user_id_lands_in_their_dm(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        posted = await call(session, fake, "chat.postMessage", "xoxb-1", channel="U0ADA", text="hi")
        assert posted["ok"] is True and posted["channel"] == "D0ADA" and posted["ts"]
        assert (await call(session, fake, "chat.postMessage", "xoxb-1", channel="U0ADA"))[
            "error"
        ] == "no_text"
        assert (await call(session, fake, "chat.postMessage", "xoxb-1", channel="U404", text="x"))[
            "error"
        ] == "channel_not_found"
    assert [m.text for m in fake.dms("U0ADA")] == ["hi"]


async def test_socket_mode_hello_envelope_and_ack(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        opened = await call(session, fake, "apps.connections.open", "xapp-1")
        url = str(opened["url"])
        assert opened["ok"] is True and url.startswith("ws://")
        async with session.ws_connect(url) as ws:
            hello = json.loads((await ws.receive()).data)
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": "A0SANDBOX"}
            assert hello["debug_info"]["approximate_connection_time"] == 3600

            sending = asyncio.create_task(fake.send_slash_command("U0ADA", "hello there"))
            envelope = json.loads((await ws.receive()).data)
            assert (
                envelope["type"] == "slash_commands"
                and envelope["accepts_response_payload"] is True
            )
            payload = envelope["payload"]
            assert payload["user_id"] == "U0ADA" and payload["text"] == "hello there"
            assert payload["command"] == "/acme" and payload["is_enterprise_install"] == "false"
            for key in (
                "team_id",
                "team_domain",
                "channel_id",
                "api_app_id",
                "response_url",
                "trigger_id",
            ):
                assert payload[key]
            await ws.send_str(
                json.dumps({"envelope_id": envelope["envelope_id"], "payload": {"text": "ack!"}})
            )
            outcome = await sending
            assert outcome.acked and outcome.ack_payload == {"text": "ack!"}
            assert fake.ephemerals("U0ADA")[-1].text == "ack!"

            # The response_url takes 5 posts.
            async with aiohttp.ClientSession() as poster:
                for n in range(5):
                    async with poster.post(payload["response_url"], json={"text": f"r{n}"}) as r:
                        assert r.status == 200
                async with poster.post(payload["response_url"], json={"text": "r5"}) as r:
                    assert r.status == 404 and await r.text() == "used_url"


async def test_a_ticket_opens_one_connection_only(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        url = str((await call(session, fake, "apps.connections.open", "xapp-1"))["url"])
        async with session.ws_connect(url):
            pass
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(url)


async def test_an_unacknowledged_command_times_out_as_slack_shows_it(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fake_slack.server.ACK_TIMEOUT_SECONDS", 0.2)
    async with aiohttp.ClientSession() as session:
        url = str((await call(session, fake, "apps.connections.open", "xapp-1"))["url"])
        async with session.ws_connect(url) as ws:
            await ws.receive()
            outcome = await fake.send_slash_command("U0ADA", "x")
    assert not outcome.acked
    assert "operation_timeout" in fake.ephemerals("U0ADA")[-1].text


async def test_a_rate_limit_and_an_outage_are_answered_as_slack_answers_them(
    fake: FakeSlack,
) -> None:
    fake.fail("users.info", "ratelimited", retry_after=20)
    fake.fail("users.info", "service_unavailable", status=503)
    fake.fail("users.info", "user_not_found")  # the old form: HTTP 200, ok false
    async with aiohttp.ClientSession() as session:
        url, headers = fake.api_url + "users.info", {"Authorization": "Bearer xoxb-1"}
        async with session.post(url, json={"user": "U0ADA"}, headers=headers) as limited:
            assert limited.status == 429 and limited.headers["Retry-After"] == "20"
            assert await limited.json() == {"ok": False, "error": "ratelimited"}
        async with session.post(url, json={"user": "U0ADA"}, headers=headers) as down:
            assert down.status == 503
            assert await down.json() == {"ok": False, "error": "service_unavailable"}
        async with session.post(url, json={"user": "U0ADA"}, headers=headers) as refused:
            assert refused.status == 200 and "Retry-After" not in refused.headers
            assert await refused.json() == {"ok": False, "error": "user_not_found"}
        assert (await call(session, fake, "users.info", "xoxb-1", user="U0ADA"))["ok"] is True


async def test_typed_text_is_sent_escaped_as_slack_sends_it(fake: FakeSlack) -> None:
    payload = fake.slash_command_payload("U0ADA", "todo add Fish & chips <today> &lt;")
    # Only &, < and > are escaped; a typed "&lt;" arrives as "&amp;lt;".
    assert payload["text"] == "todo add Fish &amp; chips &lt;today&gt; &amp;lt;"
    assert "'" not in payload["text"] and '"' not in payload["text"]


async def test_auth_test_names_the_organisation_for_an_org_wide_install() -> None:
    workspace = FakeWorkspace(
        enterprise_id="E0ORG", enterprise_name="Org", is_enterprise_install=True
    )
    fake = FakeSlack(bot_token="xoxb-1", app_token="xapp-1", workspace=workspace)
    await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            me = await call(session, fake, "auth.test", "xoxb-1")
        assert me["is_enterprise_install"] is True
        assert me["enterprise_id"] == "E0ORG" and me["team_id"] == "E0ORG"
        assert me["team"] == "Org"
        payload = fake.slash_command_payload("U0ADA", "x")
        assert payload["is_enterprise_install"] == "true"
        assert payload["team_id"] == "T0SANDBOX" and payload["enterprise_id"] == "E0ORG"
    finally:
        await fake.stop()
