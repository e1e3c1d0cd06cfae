"""ACT_AS=oauth2 end to end: the real app (Bolt over Socket Mode to the fake Slack, the site
under uvicorn, SQLite) with the real OpenID provider on loopback (tests/oidc_provider.py) as
OAUTH2_ISSUER, and the stand-in internal application taking the provider's access tokens.

A person binds by granting their tokens at the provider (authorization code grant with PKCE);
commands act with the access token, refreshed after it expires, before it expires, and once
after the application refuses it; two commands at once refresh once; unlinking revokes the
grant at the provider; a refresh the provider refuses asks the person to link again. The grant
callback refuses a replay, another session, another browser, another link and an identity at
the provider that is another user's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from account_binding.crypto import TokenCipher
from relying_party import Provider, new_code_verifier, new_secret_value
from tests.conftest import RunningApp, find_link, hidden_fields, login, run_app
from tests.oidc_provider import RunningProvider, provider_url, running_provider, sign_in_at_provider
from tests.processes import run_command
from tests.unbinding import disconnect

PUBLIC_URL = "http://binding.test"
CALLBACK = PUBLIC_URL + "/grant/callback"
REFRESHED = "Refreshed the OAuth grant of binding"


@dataclass
class OAuth2Setup:
    app: RunningApp
    provider: RunningProvider
    #: Stops the provider before the test ends (to make it unreachable).
    stop_provider: contextlib.ExitStack

    def tokens(self, slack_user: str) -> tuple[str, str]:
        """The binding's access and refresh tokens, decrypted."""
        rows = self.app.query(
            "SELECT access_token_ciphertext, refresh_token_ciphertext FROM oauth_grants "
            "JOIN bindings ON bindings.id = oauth_grants.binding_id WHERE slack_user_id = ?",
            (slack_user,),
        )
        assert rows, f"{slack_user} has no grant"
        cipher = TokenCipher(self.app.settings.secret_key())
        access, refresh = (cipher.decrypt(str(value)) for value in rows[0])
        assert access and refresh
        return access, refresh

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 at the provider, as its client."""
        response = httpx.post(
            self.provider.metadata()["introspection_endpoint"],
            data={"token": token},
            auth=(self.provider.client_id, self.provider.client_secret),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def revoke(self, token: str, hint: str) -> None:
        """RFC 7009 at the provider, as its client (an access token alone, or a refresh token,
        which revokes its whole grant)."""
        response = httpx.post(
            self.provider.metadata()["revocation_endpoint"],
            data={"token": token, "token_type_hint": hint},
            auth=(self.provider.client_id, self.provider.client_secret),
            timeout=10,
        )
        assert response.status_code == 200, response.text


@contextlib.asynccontextmanager
async def oauth2_app(
    tmp_path: Path, *, ttl: dict[str, int] | None = None, **settings: str
) -> AsyncIterator[OAuth2Setup]:
    """The app under ACT_AS=oauth2 with the provider as OAUTH2_ISSUER (the stand-in serving
    /api, so that commands act through it)."""
    stack = contextlib.ExitStack()
    with stack:
        provider = stack.enter_context(
            running_provider(tmp_path, redirect_uris=[CALLBACK], ttl=ttl)
        )
        async with run_app(
            tmp_path,
            PUBLIC_URL=PUBLIC_URL,
            ACT_AS="oauth2",
            OAUTH2_ISSUER=provider.issuer,
            OAUTH2_CLIENT_ID=provider.client_id,
            OAUTH2_CLIENT_SECRET=provider.client_secret,
            PROVIDER_TIMEOUT="5",
            **settings,
        ) as app:
            yield OAuth2Setup(app, provider, stack)


async def press_connect(
    app: RunningApp, username: str, slack_user: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """`username` opens a new link of `slack_user`, logs in for it and presses Connect: the
    browser and the answer (under ACT_AS=oauth2, a redirect to the provider)."""
    if username not in app.users:
        await app.add_user(username)
    url = await app.link_for(slack_user)
    browser, page = await app.open_link_as(username, url)
    assert page.status_code == 200, page.text
    pressed = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    return browser, pressed


async def grant_at_provider(authorization_url: str, account: str = "alice") -> dict[str, str]:
    """Sign in at the provider as `account` (its form, as a person fills it) and consent; the
    query the provider sends the browser back with (code and state, or error)."""

    def sign_in() -> dict[str, str]:
        with httpx.Client(timeout=10) as provider_browser:
            return sign_in_at_provider(
                provider_browser, authorization_url, CALLBACK, account=account
            )

    return await asyncio.to_thread(sign_in)


async def bind(
    setup: OAuth2Setup, username: str, slack_user: str, account: str = "alice"
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """The whole binding: Connect, the provider, the callback. The browser and the page the
    callback answered with."""
    browser, pressed = await press_connect(setup.app, username, slack_user)
    assert pressed.status_code == 200, pressed.text
    answer = await grant_at_provider(provider_url(pressed), account)
    return browser, await browser.get("/grant/callback", params=answer)


async def run_commands(app: RunningApp, user_id: str, *texts: str) -> list[str]:
    """Run the commands at once as `user_id`; the text of the answers they sent through the
    response_url, as they arrive."""
    before = len(app.fake.state.messages)
    outcomes = await asyncio.gather(*(app.fake.send_slash_command(user_id, t) for t in texts))
    assert all(o.acked for o in outcomes)
    expected = sum(1 for o in outcomes if not o.ack_payload)
    deadline = time.monotonic() + 20
    while True:
        later = [
            m
            for m in app.fake.state.messages[before:]
            if m.user_id == user_id and m.source == "response_url"
        ]
        if len(later) >= expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert len(later) == expected, later
    return [m.text + repr(m.blocks) for m in later]


async def answer(app: RunningApp, user_id: str, text: str) -> str:
    """The text (and blocks) of everything the command produced."""
    messages = await app.command(user_id, text)
    return "\n".join(m.text + repr(m.blocks) for m in messages)


def refreshes(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.getMessage().startswith(REFRESHED))


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


# Binding, and commands acting with the person's token


async def test_binding_grants_the_persons_tokens_and_commands_act_with_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with oauth2_app(tmp_path) as setup:
        app = setup.app
        browser, pressed = await press_connect(app, "ada", "U0ADA")
        assert pressed.status_code == 200
        location = urlsplit(provider_url(pressed))
        assert location.geturl().startswith(setup.provider.issuer)
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert query["code_challenge_method"] == "S256" and query["prompt"] == "consent"
        assert query["redirect_uri"] == CALLBACK and "offline_access" in query["scope"]
        assert not app.query("SELECT * FROM bindings"), "nothing is bound before the grant"
        done = await browser.get(
            "/grant/callback", params=await grant_at_provider(provider_url(pressed))
        )
        assert done.status_code == 200, done.text
        assert "is now connected" in done.text
        # The binding holds the grant, encrypted; the person's identity at the provider is
        # recorded; no personal API token is issued.
        [(api_token_id, user_id)] = app.query("SELECT api_token_id, user_id FROM bindings")
        assert api_token_id is None and not app.query("SELECT * FROM api_tokens")
        assert app.query("SELECT user_id, issuer, subject FROM user_identities") == [
            (user_id, setup.provider.issuer, "alice")
        ]
        [(issuer, subject, stored_access, expires_at, scope)] = app.query(
            "SELECT issuer, subject, access_token_ciphertext, expires_at, scope FROM oauth_grants"
        )
        assert (issuer, subject) == (setup.provider.issuer, "alice")
        access, refresh = setup.tokens("U0ADA")
        assert access not in str(stored_access) and isinstance(expires_at, int)
        assert "offline_access" in str(scope)
        assert setup.introspect(access)["active"] is True
        dm = await app.fake.wait_for_message(lambda m: m.where == "dm" and m.user_id == "U0ADA")
        assert "connected" in dm.text.lower()

        # Commands act in the stand-in with the person's access token.
        assert "Water the plants" in await answer(app, "U0ADA", "todo add Water the plants")
        assert "Water the plants" in await answer(app, "U0ADA", "todo")
        assert refreshes(caplog) == 0

        # No token in any log record or Slack message.
        seen = caplog.text + "".join(m.text + repr(m.blocks) for m in app.fake.state.messages)
        assert access not in seen and refresh not in seen


async def test_an_expired_access_token_is_refreshed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with oauth2_app(tmp_path, ttl={"AccessToken": 2}) as setup:
        await bind(setup, "ada", "U0ADA")
        old_access, old_refresh = setup.tokens("U0ADA")
        await asyncio.sleep(3)
        assert setup.introspect(old_access)["active"] is False
        assert "Water the plants" in await answer(setup.app, "U0ADA", "todo add Water the plants")
        new_access, new_refresh = setup.tokens("U0ADA")
        assert new_access != old_access and new_refresh != old_refresh  # rotated
        # (A machine slow enough to spend the new token's 2 s between the handler's two
        # looks at it refreshes it twice.)
        assert refreshes(caplog) >= 1


async def test_a_token_is_refreshed_before_it_expires(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Less than min(60 s, a tenth of its lifetime) left: refreshed before the call, though
    the provider still takes it."""
    async with oauth2_app(tmp_path) as setup:
        await bind(setup, "ada", "U0ADA")
        old_access, _ = setup.tokens("U0ADA")
        now = int(time.time())
        with sqlite3.connect(setup.app.settings.database) as db:
            # 2 minutes left of a 12-minute lifetime: more than 60 s and more than a tenth.
            db.execute(
                "UPDATE oauth_grants SET updated_at = ?, expires_at = ?", [now - 600, now + 120]
            )
        assert "You have no to-do items" in await answer(setup.app, "U0ADA", "todo")
        assert refreshes(caplog) == 0 and setup.tokens("U0ADA")[0] == old_access
        with sqlite3.connect(setup.app.settings.database) as db:
            # 50 s left of an hour's lifetime: less than 60 s.
            db.execute(
                "UPDATE oauth_grants SET updated_at = ?, expires_at = ?", [now - 3550, now + 50]
            )
        assert setup.introspect(old_access)["active"] is True
        assert "You have no to-do items" in await answer(setup.app, "U0ADA", "todo")
        assert refreshes(caplog) == 1 and setup.tokens("U0ADA")[0] != old_access


async def test_two_commands_at_once_after_expiry_make_one_refresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The provider rotates refresh tokens and ends the grant when one is used twice: both
    commands succeeding, the binding kept, is only possible with one refresh. (Expired as
    far as the app knows: a token that lived 2 s could expire again between the commands.)"""
    async with oauth2_app(tmp_path) as setup:
        await bind(setup, "ada", "U0ADA")
        now = int(time.time())
        with sqlite3.connect(setup.app.settings.database) as db:
            db.execute("UPDATE oauth_grants SET updated_at = ?, expires_at = ?", [now - 60, now])
        answers = await run_commands(setup.app, "U0ADA", "todo add First", "todo add Second")
        assert any("First" in a for a in answers) and any("Second" in a for a in answers), answers
        assert refreshes(caplog) == 1
        access, _ = setup.tokens("U0ADA")
        assert setup.introspect(access)["active"] is True
        assert "First" in await answer(setup.app, "U0ADA", "todo")


async def test_a_401_from_the_api_makes_one_refresh_and_one_retry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with oauth2_app(tmp_path) as setup:
        await bind(setup, "ada", "U0ADA")
        old_access, _ = setup.tokens("U0ADA")
        setup.revoke(old_access, "access_token")  # the API now answers 401 to it
        assert "Water the plants" in await answer(setup.app, "U0ADA", "todo add Water the plants")
        assert refreshes(caplog) == 1
        assert setup.tokens("U0ADA")[0] != old_access
        # An application that refuses even the new token: refreshed once, then the 401 stands.
        with sqlite3.connect(setup.app.settings.database) as db:
            db.execute("DELETE FROM user_identities")  # the stand-in knows nobody's tokens
        said = await answer(setup.app, "U0ADA", "todo")
        assert "did not accept your" in said and "unlink" in said
        assert refreshes(caplog) == 2
        assert setup.app.query("SELECT count(*) FROM bindings") == [(1,)]


# Unlinking revokes


async def test_unlink_revokes_the_grant_at_the_provider(tmp_path: Path) -> None:
    async with oauth2_app(tmp_path) as setup:
        await bind(setup, "ada", "U0ADA")
        access, refresh = setup.tokens("U0ADA")
        said = (await disconnect(setup.app, "U0ADA")).text
        assert "Disconnected from" in said, said
        assert not setup.app.query("SELECT * FROM bindings")
        assert not setup.app.query("SELECT * FROM oauth_grants")
        assert setup.introspect(refresh)["active"] is False
        assert setup.introspect(access)["active"] is False


async def test_an_administrators_unbind_revokes_the_grant(tmp_path: Path) -> None:
    async with oauth2_app(tmp_path) as setup:
        await bind(setup, "ada", "U0ADA")
        access, refresh = setup.tokens("U0ADA")
        settings = setup.app.settings
        code, out, err = await run_command(
            tmp_path,
            "unbind",
            "T0SANDBOX/U0ADA",
            DATABASE=str(settings.database),
            SECRET_KEY=settings.secret_key(),
            ACT_AS="oauth2",
            OAUTH2_ISSUER=setup.provider.issuer,
            OAUTH2_CLIENT_ID=setup.provider.client_id,
            OAUTH2_CLIENT_SECRET=setup.provider.client_secret,
        )
        assert code == 0, err
        assert not setup.app.query("SELECT * FROM oauth_grants")
        assert setup.introspect(refresh)["active"] is False
        assert setup.introspect(access)["active"] is False
        assert access not in out + err and refresh not in out + err


async def test_a_failed_revocation_is_logged_and_the_unlink_stands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with oauth2_app(tmp_path) as setup:
        await bind(setup, "ada", "U0ADA")
        access, refresh = setup.tokens("U0ADA")
        setup.stop_provider.close()  # the provider is gone
        said = (await disconnect(setup.app, "U0ADA")).text
        assert "Disconnected from" in said, said
        assert not setup.app.query("SELECT * FROM bindings")
        warnings = [
            r for r in caplog.records if r.levelno == logging.WARNING and "revoke" in r.getMessage()
        ]
        assert warnings
        assert access not in caplog.text and refresh not in caplog.text


# When the provider says no, or does not answer


async def test_a_refresh_the_provider_refuses_asks_to_link_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with oauth2_app(tmp_path) as setup:
        await bind(setup, "ada", "U0ADA")
        _, refresh = setup.tokens("U0ADA")
        setup.revoke(refresh, "refresh_token")  # the person withdrew the grant at the provider
        said = await answer(setup.app, "U0ADA", "todo")
        assert "was ended at" in said, said
        link = find_link(await setup.app.command("U0ADA", "link"))  # a new link works
        assert "/bind/" in link
        assert "/bind/" in said  # the answer itself carries a new link
        assert not setup.app.query("SELECT * FROM bindings")
        assert not setup.app.query("SELECT * FROM oauth_grants")
        assert setup.app.query("SELECT detail FROM audit_events WHERE event = 'unbound'") == [
            ("grant refused at the provider",)
        ]
        # And the same flow binds again.
        done = (await bind(setup, "ada", "U0ADA"))[1]
        assert done.status_code == 200, done.text


async def test_an_unreachable_provider_keeps_the_binding(tmp_path: Path) -> None:
    async with oauth2_app(tmp_path, ttl={"AccessToken": 2}) as setup:
        await bind(setup, "ada", "U0ADA")
        setup.stop_provider.close()
        await asyncio.sleep(2.5)
        said = await answer(setup.app, "U0ADA", "todo")
        assert "Could not reach 127.0.0.1" in said, said
        assert setup.app.query("SELECT count(*) FROM bindings") == [(1,)]
        assert setup.app.query("SELECT refreshing_until FROM oauth_grants") == [(None,)]


# The grant callback's refusals


async def test_an_identity_at_the_provider_belonging_to_another_user_is_refused(
    tmp_path: Path,
) -> None:
    async with oauth2_app(tmp_path) as setup:
        assert (await bind(setup, "ada", "U0ADA"))[1].status_code == 200  # ada is alice there
        browser, refused = await bind(setup, "grace", "U0GRACE", account="alice")
        assert refused.status_code == 409
        assert "belongs to another user" in refused.text
        assert setup.app.query("SELECT count(*) FROM bindings") == [(1,)]
        assert setup.app.query("SELECT count(*) FROM oauth_grants") == [(1,)]
        # The link is kept: grace, signing in as herself there, connects.
        page = await browser.get("/bind")
        pressed = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
        answer_ = await grant_at_provider(provider_url(pressed), "mallory")
        assert (await browser.get("/grant/callback", params=answer_)).status_code == 200


async def test_a_replayed_grant_callback_is_refused(tmp_path: Path) -> None:
    async with oauth2_app(tmp_path) as setup:
        browser, pressed = await press_connect(setup.app, "ada", "U0ADA")
        query = await grant_at_provider(provider_url(pressed))
        flow_cookie = browser.cookies.get("sso_flow")
        assert flow_cookie
        assert (await browser.get("/grant/callback", params=query)).status_code == 200
        assert browser.cookies.get("sso_flow") is None  # forgotten once used
        browser.cookies.set("sso_flow", flow_cookie)  # the whole request replayed
        replayed = await browser.get("/grant/callback", params=query)
        assert replayed.status_code == 400
        assert "already used" in replayed.text
        made_up = await browser.get("/grant/callback", params={"code": "x", "state": "y" * 43})
        assert made_up.status_code == 400
        assert setup.app.query("SELECT count(*) FROM bindings") == [(1,)]


async def test_a_grant_callback_in_another_browser_is_refused(tmp_path: Path) -> None:
    """An attacker who sends their own callback URL to a victim logged in for a link of
    theirs: the victim's browser has no flow cookie of that flow."""
    async with oauth2_app(tmp_path) as setup:
        _, pressed = await press_connect(setup.app, "mallory", "U0ALAN")
        query = await grant_at_provider(provider_url(pressed), "mallory")
        await setup.app.add_user("ada")
        victim, page = await setup.app.open_link_as("ada", await setup.app.link_for("U0ADA"))
        assert page.status_code == 200
        refused = await victim.get("/grant/callback", params=query)
        assert refused.status_code == 400
        assert not setup.app.query("SELECT * FROM bindings")


async def test_a_grant_callback_in_another_session_is_refused(tmp_path: Path) -> None:
    """The flow belongs to the session that pressed Connect: after another login in this
    browser (someone else at a shared computer), the callback binds nothing."""
    async with oauth2_app(tmp_path) as setup:
        browser, pressed = await press_connect(setup.app, "ada", "U0ADA")
        query = await grant_at_provider(provider_url(pressed))
        await setup.app.add_user("grace")
        browser.cookies.delete("session")
        await login(browser, "grace", next_path="/bind")  # a new session for the same link
        assert browser.cookies.get("session")
        refused = await browser.get("/grant/callback", params=query)
        assert refused.status_code == 400
        assert "another session" in refused.text
        assert not setup.app.query("SELECT * FROM bindings")


async def test_a_grant_callback_for_a_link_no_longer_open_is_refused(tmp_path: Path) -> None:
    async with oauth2_app(tmp_path) as setup:
        browser, pressed = await press_connect(setup.app, "ada", "U0ADA")
        query = await grant_at_provider(provider_url(pressed))
        # Another link opened in this browser meanwhile (a second tab, or an attacker's).
        await browser.get(urlsplit(await setup.app.link_for("U0GRACE")).path)
        refused = await browser.get("/grant/callback", params=query)
        assert refused.status_code == 409
        assert not setup.app.query("SELECT * FROM bindings")


async def test_a_grant_the_person_declines_keeps_the_link(tmp_path: Path) -> None:
    async with oauth2_app(tmp_path) as setup:
        browser, pressed = await press_connect(setup.app, "ada", "U0ADA")
        state = parse_qs(urlsplit(provider_url(pressed)).query)["state"][0]
        declined = await browser.get(
            "/grant/callback", params={"error": "access_denied", "state": state}
        )
        assert declined.status_code == 400
        assert "did not grant access" in declined.text and 'href="/bind"' in declined.text
        assert not setup.app.query("SELECT * FROM bindings")
        done = await bind_again(setup, browser)
        assert done.status_code == 200, done.text


async def bind_again(setup: OAuth2Setup, browser: httpx.AsyncClient) -> httpx.Response:
    page = await browser.get("/bind")
    pressed = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert pressed.status_code == 200, pressed.text
    query = await grant_at_provider(provider_url(pressed))
    return await browser.get("/grant/callback", params=query)


# One consent for login and binding (AUTH=oidc at the same provider)


LOGIN_CALLBACK = PUBLIC_URL + "/login/callback"


@contextlib.asynccontextmanager
async def one_consent_app(tmp_path: Path) -> AsyncIterator[OAuth2Setup]:
    """AUTH=oidc and ACT_AS=oauth2 at one provider: the login made for a link also grants."""
    with running_provider(tmp_path, redirect_uris=[LOGIN_CALLBACK, CALLBACK]) as provider:
        async with run_app(
            tmp_path,
            PUBLIC_URL=PUBLIC_URL,
            ACT_AS="oauth2",
            AUTH="oidc",
            OIDC_ISSUER=provider.issuer,
            OIDC_CLIENT_ID=provider.client_id,
            OIDC_CLIENT_SECRET=provider.client_secret,
            OIDC_PROVIDER_NAME="Test ID",
        ) as app:
            yield OAuth2Setup(app, provider, contextlib.ExitStack())


async def sign_in_for_link(browser: httpx.AsyncClient, started: httpx.Response) -> httpx.Response:
    """Sign in at the provider the login's `started` page leads to; the callback's answer."""

    def sign_in() -> dict[str, str]:
        with httpx.Client(timeout=10) as provider_browser:
            return sign_in_at_provider(provider_browser, provider_url(started), LOGIN_CALLBACK)

    return await browser.get("/login/callback", params=await asyncio.to_thread(sign_in))


async def test_one_consent_at_the_login_also_grants_the_tokens(tmp_path: Path) -> None:
    """AUTH=oidc at OAUTH2_ISSUER: the login made for the link asks OAUTH2_SCOPES too (with
    prompt=consent) and leaves its grant with the session, encrypted (PendingGrants); Connect
    binds with it at once, with no second trip to the provider, and uses it once."""
    async with one_consent_app(tmp_path) as setup:
        app = setup.app
        browser = app.browser()
        await browser.get(urlsplit(await app.link_for("U0ALICE")).path)
        login_page = await browser.get("/login", params={"next": "/bind"})
        started = await browser.post("/login", data=hidden_fields(login_page))
        assert started.status_code == 200, started.text
        request = parse_qs(urlsplit(provider_url(started)).query)
        assert "offline_access" in request["scope"][0] and request["prompt"] == ["consent"]

        logged_in = await sign_in_for_link(browser, started)
        assert logged_in.status_code == 303 and logged_in.headers["location"] == "/bind"
        [(kept,)] = app.query(
            "SELECT grant_ciphertext FROM sessions WHERE grant_ciphertext IS NOT NULL"
        )
        page = await browser.get("/bind")
        assert page.status_code == 200, page.text
        done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
        assert done.status_code == 200, done.text  # bound at once: no trip to the provider
        access, refresh = setup.tokens("U0ALICE")
        assert access not in str(kept) and refresh not in str(kept)
        assert not app.query("SELECT * FROM sessions WHERE grant_ciphertext IS NOT NULL"), (
            "the session's grant is used once"
        )
        assert "You have no to-do items" in await answer(app, "U0ALICE", "todo")


@pytest.mark.parametrize("ended_by", ["cancel", "logout"])
async def test_tokens_a_login_left_unused_are_forgotten_not_revoked_when_its_link_is_cancelled_or_it_ends(
    tmp_path: Path, ended_by: str
) -> None:
    """The one-consent login asked for offline access: when the person cancels the link or
    logs out instead of pressing Connect, the session forgets those tokens. They are not
    revoked: this provider (like many) keeps one grant per person and client, and revoking
    them would also end the tokens of the person's existing bindings."""
    async with one_consent_app(tmp_path) as setup:
        app = setup.app
        browser = app.browser()
        await browser.get(urlsplit(await app.link_for("U0ALICE")).path)
        login_page = await browser.get("/login", params={"next": "/bind"})
        started = await browser.post("/login", data=hidden_fields(login_page))

        assert (await sign_in_for_link(browser, started)).status_code == 303
        [(kept,)] = app.query(
            "SELECT grant_ciphertext FROM sessions WHERE grant_ciphertext IS NOT NULL"
        )
        document = TokenCipher(app.settings.secret_key()).decrypt(str(kept))
        assert document is not None
        refresh = json.loads(document)["refresh_token"]
        assert setup.introspect(refresh)["active"] is True
        page = await browser.get("/bind")
        if ended_by == "cancel":
            done = await browser.post("/bind", data={**hidden_fields(page), "action": "cancel"})
        else:
            done = await browser.post("/logout", data=hidden_fields(page))
        assert done.status_code == 200, done.text
        assert not app.query("SELECT * FROM sessions WHERE grant_ciphertext IS NOT NULL")
        assert setup.introspect(refresh)["active"] is True


# The stand-in under ACT_AS=oauth2


async def test_the_stand_in_takes_only_the_providers_tokens_of_known_people(
    tmp_path: Path,
) -> None:
    async with oauth2_app(tmp_path, INTERNAL_API_TOKEN="s" * 40) as setup:
        await bind(setup, "ada", "U0ADA")
        access, _ = setup.tokens("U0ADA")
        api = setup.app.http
        me = await api.get("/api/me", headers={"Authorization": f"Bearer {access}"})
        assert me.status_code == 200 and me.json()["username"] == "ada"
        stranger = await tokens_for_account(setup.provider, "mallory")  # nobody here
        for headers in (
            {"Authorization": f"Bearer {stranger}"},
            {"Authorization": "Bearer " + "s" * 40},  # the service credential acts for nobody
            {"Authorization": "Bearer not-a-token"},
        ):
            refused = await api.get("/api/me", headers=headers)
            assert refused.status_code == 401, (headers, refused.text)
        for credential in (access, "s" * 40):  # no token acts as someone else
            with_header = await api.get(
                "/api/me",
                headers={"Authorization": f"Bearer {credential}", "Impersonate-User": "grace"},
            )
            assert with_header.status_code == 403


async def tokens_for_account(provider: RunningProvider, account: str) -> str:
    client = Provider(provider.issuer, provider.client_id, provider.client_secret, timeout=10)
    state, nonce, verifier = new_secret_value(), new_secret_value(), new_code_verifier()
    url = await client.authorization_url(
        CALLBACK, "openid", state=state, nonce=nonce, code_verifier=verifier
    )
    query = await grant_at_provider(url, account)
    grant = await client.exchange_code(CALLBACK, query["code"], code_verifier=verifier, nonce=nonce)
    return grant.access_token


async def test_a_binding_made_without_a_grant_is_removed_and_linked_again(tmp_path: Path) -> None:
    """Switched from ACT_AS=token to oauth2: a binding holding no grant cannot act; it is
    removed and the person gets a new link, which binds with a grant."""
    async with run_app(tmp_path) as app:
        await app.bind("ada", "U0ADA")
    async with oauth2_app(tmp_path) as setup:
        said = await answer(setup.app, "U0ADA", "todo")
        assert "/bind/" in said and "Connect" in said, said
        assert not setup.app.query("SELECT * FROM bindings")
        setup.app.users["ada"] = next(u for u in await setup.app.store.list_users())
        assert (await bind(setup, "ada", "U0ADA"))[1].status_code == 200
        assert "You have no to-do items" in await answer(setup.app, "U0ADA", "todo")
