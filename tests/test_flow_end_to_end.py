"""The whole binding flow: the real Bolt app over a real websocket to the fake Slack, real HTTP
to the real site, a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from urllib.parse import urlsplit

import pytest
from conftest import PASSWORD, RunningApp, find_link, hidden_fields, login
from unbinding import disconnect

from account_binding.crypto import TokenCipher


async def test_unbound_command_binds_then_acts_on_the_internal_application(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.add_user("ada", "ada@acme.example")

    # 1. An unknown Slack user runs the command: an ephemeral reply with the association URL.
    messages = await app.command("U0ADA", "whoami")
    assert [m.where for m in messages] == ["ephemeral"]
    assert messages[0].source == "ack"
    url = find_link(messages)
    assert url.startswith(app.settings.public_url + "/bind/")
    nonce = urlsplit(url).path.rsplit("/", 1)[1]
    assert len(nonce) >= 43  # 256 bits, base64url

    # 2. They open it: the nonce leaves the address bar, and login comes first.
    browser = app.http
    opened = await browser.get(urlsplit(url).path)
    assert opened.status_code == 303 and opened.headers["location"] == "/bind"
    asked = await browser.get("/bind")
    assert asked.status_code == 303 and asked.headers["location"] == "/login?next=%2Fbind"
    logged_in = await login(browser, "ada", PASSWORD, next_path="/bind")
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/bind"

    # 3. The page names who is bound to whom and asks; a GET binds nothing.
    page = await browser.get("/bind")
    assert page.status_code == 200
    assert "ada" in page.text and "U0ADA" in page.text and "sandbox" in page.text
    assert 'value="connect"' in page.text and 'value="cancel"' in page.text
    with sqlite3.connect(app.settings.database) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (0,)

    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200, done.text
    assert "Connected" in done.text and "Back to Slack" in done.text

    # 4. The binding is stored, the link consumed, and a DM confirms it.
    with sqlite3.connect(app.settings.database) as db:
        rows = db.execute(
            "SELECT scope_id, slack_user_id, user_id, api_token_ciphertext FROM bindings"
        ).fetchall()
        assert [(r[0], r[1], r[2]) for r in rows] == [("T0SANDBOX", "U0ADA", app.users["ada"].id)]
        assert db.execute("SELECT used_at IS NOT NULL FROM binding_requests").fetchall() == [(1,)]
        assert db.execute(
            "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL"
        ).fetchone() == (1,)
    dm = await app.fake.wait_for_message(lambda m: m.where == "dm" and m.user_id == "U0ADA")
    assert "ada" in dm.text and "connected" in dm.text
    post = [c for c in app.fake.state.api_calls if c.method == "chat.postMessage"]
    assert post and post[0].token == "xoxb-test-bot-token" and post[0].args["channel"] == "U0ADA"

    # 5. whoami answers from the binding, at once (it needs no internal API)...
    answer = await app.command("U0ADA", "whoami")
    assert [m.source for m in answer] == ["ack"]
    assert "ada" in answer[0].text
    fields = [b for b in answer[0].blocks if b["type"] == "section" and "fields" in b]
    assert fields and "ada@acme.example" in fields[0]["fields"][1]["text"]

    # ...and the to-do plugin acts in the internal application with the token: it writes
    # there, then reads it back.
    added = await app.command("U0ADA", "todo add Water the plants")
    assert "Water the plants" in added[-1].text
    listed = await app.command("U0ADA", "todo")
    assert "Water the plants" in str(listed[-1].blocks)
    todo_id = added[-1].text.split("#")[1].split(":")[0]
    completed = await app.command("U0ADA", f"todo done {todo_id}")
    assert "Completed" in completed[-1].text


async def test_the_bound_answer_comes_after_the_acknowledgement(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("grace")
    url = await app.link_for("U0GRACE")
    browser = app.browser()
    await browser.get(urlsplit(url).path)
    await login(browser, "grace", next_path="/bind")
    page = await browser.get("/bind")
    await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})

    outcome = await app.fake.send_slash_command("U0GRACE", "todo")
    assert outcome.acked and outcome.ack_payload is None  # an empty ack; the answer follows
    reply = await app.fake.wait_for_message(
        lambda m: m.source == "response_url" and m.user_id == "U0GRACE"
    )
    assert "no to-do items" in reply.text


async def test_help_and_unknown_subcommands_answer_in_the_ack(running_app: RunningApp) -> None:
    for text in ("", "help", "frobnicate the widgets"):
        messages = await running_app.command("U0ALAN", text)
        assert len(messages) == 1 and messages[0].source == "ack"
        assert "whoami" in messages[0].text
    unknown = await running_app.command("U0ALAN", "frobnicate")
    assert "don't know `frobnicate`" in unknown[0].blocks[0]["text"]["text"]


async def test_the_command_answers_under_any_name(running_app: RunningApp) -> None:
    outcome = await running_app.fake.send_slash_command("U0ALAN", "help", command="/intranet")
    assert outcome.acked and outcome.ack_payload
    assert "/intranet whoami" in str(outcome.ack_payload["blocks"])


async def test_unlink_removes_the_binding_revokes_the_token_and_tells_the_person(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.add_user("alan")
    url = await app.link_for("U0ALAN")
    await app.http.get(urlsplit(url).path)
    await login(app.http, "alan", next_path="/bind")
    page = await app.http.get("/bind")
    await app.http.post("/bind", data={**hidden_fields(page), "action": "connect"})
    with sqlite3.connect(app.settings.database) as db:
        ciphertext = db.execute("SELECT api_token_ciphertext FROM bindings").fetchone()[0]
    assert "abt_" not in ciphertext  # encrypted at rest
    token = TokenCipher(app.settings.secret_key()).decrypt(ciphertext)
    assert token and token.startswith("abt_")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await app.http.get("/api/me", headers=headers)).json()["username"] == "alan"

    question = await disconnect(app, "U0ALAN")
    assert "no longer acts as you" in question.text
    await app.fake.wait_for_message(lambda m: m.where == "dm" and "no longer connected" in m.text)
    with sqlite3.connect(app.settings.database) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (0,)
        assert db.execute(
            "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL"
        ).fetchone() == (0,)
    assert (await app.http.get("/api/me", headers=headers)).status_code == 401
    again = await app.command("U0ALAN", "whoami")
    assert find_link(again)


async def test_the_app_reconnects_when_slack_refreshes_the_connection(
    running_app: RunningApp,
) -> None:
    app = running_app
    opened = app.fake.state.connections_opened
    await app.fake.disconnect_all("refresh_requested")
    for _ in range(200):
        if app.fake.open_connections and app.fake.state.connections_opened > opened:
            break
        await asyncio.sleep(0.05)
    assert app.fake.state.connections_opened > opened  # a fresh apps.connections.open
    messages = await app.command("U0ADA", "help")
    assert "whoami" in messages[0].text


async def test_a_failed_dm_keeps_the_binding_and_is_logged(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = running_app
    await app.add_user("ada")
    app.fake.fail("chat.postMessage", "channel_not_found")
    url = await app.link_for("U0ADA")
    await app.http.get(urlsplit(url).path)
    await login(app.http, "ada", next_path="/bind")
    page = await app.http.get("/bind")
    done = await app.http.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200
    for _ in range(100):
        if "Could not DM Slack user U0ADA" in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert "Could not DM Slack user U0ADA about binding 1: channel_not_found" in caplog.text
    assert app.fake.dms("U0ADA") == []
    with sqlite3.connect(app.settings.database) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (1,)
    answer = await app.command("U0ADA", "whoami")
    assert "ada" in answer[-1].text


async def test_every_envelope_is_acknowledged_even_one_no_listener_handles(
    running_app: RunningApp,
) -> None:
    fake = running_app.fake
    event = await fake.send_envelope(
        "events_api",
        {
            "type": "event_callback",
            "team_id": "T0SANDBOX",
            "api_app_id": "A0SANDBOX",
            "event": {"type": "app_mention", "user": "U0ADA", "text": "hi", "channel": "C0GENERAL"},
            "event_id": "Ev1",
            "event_time": 1,
        },
    )
    assert event.acked
    button = {
        "type": "block_actions",
        "team": {"id": "T0SANDBOX", "domain": "sandbox"},
        "user": {"id": "U0ADA", "team_id": "T0SANDBOX"},
        "api_app_id": "A0SANDBOX",
        "actions": [{"action_id": "open_association_url", "block_id": "b", "type": "button"}],
        "trigger_id": "1.2.3",
    }
    assert (await fake.send_envelope("interactive", button)).acked
    unknown = {
        **button,
        "actions": [{"action_id": "something_else", "block_id": "b", "type": "button"}],
    }
    assert (await fake.send_envelope("interactive", unknown)).acked


async def test_an_answer_the_response_url_refuses_is_logged(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    app.fake.fail("response_url", "expired_url")
    outcome = await app.fake.send_slash_command("U0ADA", "todo")
    assert outcome.acked
    for _ in range(100):
        if "response_url refused" in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert "The response_url refused the answer: HTTP 404 expired_url" in caplog.text


async def test_a_binding_whose_token_cannot_be_read_is_replaced_by_linking_again(
    running_app: RunningApp,
) -> None:
    """After SECRET_KEY changes, the stored token cannot be decrypted: the person is asked to
    link again, and linking again works without an unlink first."""
    app = running_app
    await app.bind("ada", "U0ADA")
    app.query("UPDATE bindings SET api_token_ciphertext = 'encrypted-under-another-key'")
    reply = await app.command("U0ADA", "whoami")
    assert find_link(reply)
    assert app.query("SELECT count(*) FROM bindings") == [(0,)]
    assert app.query("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL") == [(0,)]
    await app.bind("ada", "U0ADA")
    answer = await app.command("U0ADA", "whoami")
    assert "ada" in answer[-1].text
