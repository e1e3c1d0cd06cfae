"""AUTH=oidc over real HTTP against a real OpenID provider on loopback (panva's oidc-provider,
tests/oidc_provider.py): the sign-in page, the authorization code flow with PKCE, state and
nonce, and each refusal. The ID token's own checks (issuer, audience, expiry, nonce) are
relying_party's and proven in its tests."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import RunningApp, csrf_of, free_socket, hidden_fields, run_app

from tests.oidc_provider import RunningProvider, provider_url, running_provider, sign_in_at_provider

CALLBACK = "/login/callback"


@dataclass
class SSO:
    app: RunningApp
    provider: RunningProvider
    stop_provider: contextlib.ExitStack

    @property
    def redirect_uri(self) -> str:
        return self.app.settings.public_url + CALLBACK


@contextlib.asynccontextmanager
async def sso_app(tmp_path: Path, **settings: str) -> AsyncIterator[SSO]:
    """The app with AUTH=oidc at a provider whose client has this app's redirect URIs."""
    sock = free_socket()
    public_url = f"http://localhost:{sock.getsockname()[1]}"  # PUBLIC_URL's default
    with contextlib.ExitStack() as stack:
        provider = stack.enter_context(
            running_provider(
                tmp_path,
                redirect_uris=[public_url + CALLBACK],
                post_logout_redirect_uris=[public_url + "/"],
            )
        )
        async with run_app(
            tmp_path,
            sock=sock,
            AUTH="oidc",
            OIDC_ISSUER=provider.issuer,
            OIDC_CLIENT_ID=provider.client_id,
            OIDC_CLIENT_SECRET=provider.client_secret,
            OIDC_PROVIDER_NAME="Test ID",
            **settings,
        ) as app:
            yield SSO(app, provider, stack)


@pytest.fixture
async def sso(tmp_path: Path) -> AsyncIterator[SSO]:
    async with sso_app(tmp_path) as running:
        yield running


async def start_sign_in(browser: httpx.AsyncClient, next_path: str = "/") -> str:
    """Press "Sign in with Test ID" on the login page; the provider address it sends to."""
    page = await browser.get("/login", params={"next": next_path})
    assert page.status_code == 200 and "Sign in with Test ID" in page.text, page.text
    started = await browser.post("/login", data=hidden_fields(page))
    assert started.status_code == 200, started.text
    return provider_url(started)


async def at_provider(sso: SSO, authorization_url: str, account: str = "alice") -> dict[str, str]:
    """The person signs in at the provider (its form, as a person fills it) in their browser;
    the parameters the provider sends back to the callback."""

    def sign_in() -> dict[str, str]:
        with httpx.Client(timeout=10, trust_env=False) as browser:
            return sign_in_at_provider(
                browser, authorization_url, sso.redirect_uri, account=account
            )

    return await asyncio.to_thread(sign_in)


async def sign_in(
    sso: SSO, browser: httpx.AsyncClient, account: str = "alice", next_path: str = "/"
) -> httpx.Response:
    """The whole sign-in in `browser`: the callback's response."""
    url = await start_sign_in(browser, next_path)
    back = await at_provider(sso, url, account)
    return await browser.get(CALLBACK, params=back)


def failures(app: RunningApp) -> list[Any]:
    return [
        row[0]
        for row in app.query(
            "SELECT detail FROM audit_events WHERE event = 'login_failed' ORDER BY id"
        )
    ]


async def test_a_person_signs_in_with_the_provider_and_binds_end_to_end(sso: SSO) -> None:
    app = sso.app
    url = await app.link_for("U0ALICE")
    browser = app.browser()
    # A session cookie planted beforehand is ended, not promoted (no fixation).
    planted_browser = app.browser()
    assert (await sign_in(sso, planted_browser)).status_code == 303
    planted = planted_browser.cookies["session"]
    browser.cookies.set("session", planted, domain="127.0.0.1")

    assert (await browser.get(urlsplit(url).path)).headers["location"] == "/bind"
    asked = await browser.get("/bind")
    assert asked.status_code == 303 and asked.headers["location"] == "/login?next=%2Fbind"
    authorization_url = await start_sign_in(browser, "/bind")
    request = parse_qs(urlsplit(authorization_url).query)
    assert authorization_url.startswith(sso.provider.issuer)
    assert request["code_challenge_method"] == ["S256"] and request["code_challenge"]
    assert request["state"] and request["nonce"]
    assert request["redirect_uri"] == [sso.redirect_uri]
    assert request["scope"] == ["openid email profile"]

    back = await at_provider(sso, authorization_url)
    done = await browser.get(CALLBACK, params=back)
    assert done.status_code == 303 and done.headers["location"] == "/bind"
    assert done.cookies["session"] != planted
    assert "You are not logged in" in (await planted_browser.get("/")).text
    page = await browser.get("/bind")
    assert page.status_code == 200 and "U0ALICE" in page.text and "alice" in page.text
    connected = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert connected.status_code == 200 and "Connected" in connected.text

    (user_id,) = app.query("SELECT id FROM users WHERE username = 'alice'")[0]
    assert app.query("SELECT user_id, issuer, subject FROM user_identities") == [
        (user_id, sso.provider.issuer, "alice")
    ]
    assert app.query("SELECT email, password_hash FROM users") == [("alice@example.com", "!")]
    assert app.query("SELECT user_id FROM bindings") == [(user_id,)]
    assert app.query("SELECT detail FROM audit_events WHERE event = 'login'") == [("oidc",)] * 2
    answer = await app.command("U0ALICE", "whoami")
    assert "alice" in answer[0].text


async def test_a_callback_with_a_wrong_state_is_refused(sso: SSO) -> None:
    browser = sso.app.browser()
    back = await at_provider(sso, await start_sign_in(browser))
    wrong = await browser.get(CALLBACK, params={**back, "state": back["state"] + "x"})
    assert wrong.status_code == 400
    assert "not started here or has expired; start again" in wrong.text
    assert not wrong.cookies.get("session")
    assert failures(sso.app) == ["oidc:flow:unknown or used state"]
    # The state the flow began with still works once: nothing was used up by the forgery.
    assert (await browser.get(CALLBACK, params=back)).status_code == 303


async def test_an_answer_naming_another_issuer_is_refused(sso: SSO) -> None:
    """RFC 9207: the provider names itself in `iss` on the redirect back; an answer naming
    another issuer (a mix-up) logs nobody in."""
    browser = sso.app.browser()
    back = await at_provider(sso, await start_sign_in(browser))
    assert back["iss"] == sso.provider.issuer
    mixed_up = await browser.get(CALLBACK, params={**back, "iss": "https://evil.example"})
    assert mixed_up.status_code == 400 and not mixed_up.cookies.get("session")
    assert failures(sso.app) == ["oidc:iss"]


async def test_a_replayed_callback_is_refused(sso: SSO) -> None:
    browser = sso.app.browser()
    back = await at_provider(sso, await start_sign_in(browser))
    assert (await browser.get(CALLBACK, params=back)).status_code == 303
    again = await browser.get(CALLBACK, params=back)
    assert again.status_code == 400 and "start again" in again.text
    assert sso.app.query("SELECT count(*) FROM sessions") == [(1,)]
    assert failures(sso.app) == ["oidc:flow:unknown or used state"]


async def test_a_callback_opened_in_another_browser_is_refused(sso: SSO) -> None:
    """Login CSRF: an attacker begins a sign-in as themselves and sends the victim the
    callback address; the victim's browser has no flow cookie, so nobody is logged in."""
    attacker = sso.app.browser()
    back = await at_provider(sso, await start_sign_in(attacker), account="mallory")
    victim = sso.app.browser()
    refused = await victim.get(CALLBACK, params=back)
    assert refused.status_code == 400 and "not started here" in refused.text
    assert not refused.cookies.get("session")
    assert sso.app.query("SELECT count(*) FROM sessions") == [(0,)]
    assert sso.app.query("SELECT count(*) FROM users") == [(0,)]
    assert failures(sso.app) == ["oidc:flow:another browser"]


async def test_a_person_outside_the_allowed_domains_is_refused(tmp_path: Path) -> None:
    async with sso_app(tmp_path, OIDC_ALLOWED_DOMAINS="acme.example") as sso:
        refused = await sign_in(sso, sso.app.browser(), "alice")  # alice@example.com
        assert refused.status_code == 403 and "acme.example" in refused.text
        assert sso.app.query("SELECT count(*) FROM users") == [(0,)]
        assert sso.app.query("SELECT count(*) FROM sessions") == [(0,)]
        assert failures(sso.app) == ["oidc:domain"]


async def test_an_unverified_email_counts_for_no_domain(tmp_path: Path) -> None:
    # mallory@elsewhere.example, which the provider does not mark verified.
    async with sso_app(tmp_path, OIDC_ALLOWED_DOMAINS="elsewhere.example") as sso:
        refused = await sign_in(sso, sso.app.browser(), "mallory")
        assert refused.status_code == 403 and "did not vouch for your email" in refused.text
        assert sso.app.query("SELECT count(*) FROM users") == [(0,)]
        assert failures(sso.app) == ["oidc:unverified_email"]


async def test_an_unverified_email_is_not_kept(sso: SSO) -> None:
    """With no allowed domains anyone may sign in, but an address the provider does not
    vouch for is not the account's (REQUIRE_EMAIL_MATCH compares it with Slack's)."""
    assert (await sign_in(sso, sso.app.browser(), "mallory")).status_code == 303
    assert sso.app.query("SELECT username, email FROM users") == [("mallory", "")]


async def test_the_provider_answering_access_denied_gets_a_clear_page(sso: SSO) -> None:
    browser = sso.app.browser()
    url = await start_sign_in(browser)
    state = parse_qs(urlsplit(url).query)["state"][0]
    # The person declines at the provider, which sends them back with an error (RFC 6749
    # section 4.1.2.1).
    denied = await browser.get(
        CALLBACK, params={"error": "access_denied", "state": state, "error_description": "no"}
    )
    assert denied.status_code == 403
    assert "cancelled or not allowed" in denied.text and "Test ID" in denied.text
    assert not denied.cookies.get("session")
    assert failures(sso.app) == ["oidc:provider:access_denied"]


async def test_a_provider_that_does_not_answer_gets_try_again_not_500(sso: SSO) -> None:
    browser = sso.app.browser()
    back = await at_provider(sso, await start_sign_in(browser))
    sso.stop_provider.close()  # the provider goes down before the code is exchanged
    down = await browser.get(CALLBACK, params=back)
    assert down.status_code == 503 and "try again" in down.text.lower()
    assert down.headers["retry-after"] == "60"
    assert failures(sso.app) == ["oidc:unavailable"]


async def test_a_provider_down_at_the_start_gets_try_again_not_500(tmp_path: Path) -> None:
    nobody = free_socket()  # bound, never listening: connections are refused
    try:
        async with run_app(
            tmp_path,
            AUTH="oidc",
            OIDC_ISSUER=f"http://127.0.0.1:{nobody.getsockname()[1]}",
            OIDC_CLIENT_ID="client",
            OIDC_CLIENT_SECRET="secret",
            PROVIDER_TIMEOUT="2",
        ) as app:
            browser = app.browser()
            page = await browser.get("/login")
            started = await browser.post("/login", data=hidden_fields(page))
            assert started.status_code == 503 and "try again" in started.text.lower()
    finally:
        nobody.close()


async def test_an_existing_local_account_is_not_taken_over_by_a_sign_in(sso: SSO) -> None:
    """The provider's alice has the name and the email address of the local account alice:
    she is refused, and the local account stays as it was, unlinked."""
    local = await sso.app.add_user("alice", "alice@example.com")
    refused = await sign_in(sso, sso.app.browser(), "alice")
    assert refused.status_code == 409 and "not linked to the sign-in you used" in refused.text
    assert not refused.cookies.get("session")
    assert sso.app.query("SELECT count(*) FROM user_identities") == [(0,)]
    assert sso.app.query("SELECT id, password_hash != '!' FROM users") == [(local.id, 1)]
    assert failures(sso.app) == ["oidc:username_taken"]


async def test_a_sign_in_for_a_link_does_not_log_in_for_another(sso: SSO) -> None:
    first = await sso.app.link_for("U0ALICE")
    second = await sso.app.link_for("U0BOB")
    browser = sso.app.browser()
    await browser.get(urlsplit(first).path)
    back = await at_provider(sso, await start_sign_in(browser, "/bind"))
    await browser.get(urlsplit(second).path)  # another link opened while signing in
    changed = await browser.get(CALLBACK, params=back)
    assert changed.status_code == 409 and "no longer the one open" in changed.text
    assert not changed.cookies.get("session")


async def test_the_sign_in_button_needs_its_csrf_token(sso: SSO) -> None:
    browser = sso.app.browser()
    page = await browser.get("/login")
    forged = await browser.post("/login", data={**hidden_fields(page), "csrf_token": "forged"})
    assert forged.status_code == 403
    assert sso.app.query("SELECT count(*) FROM authorization_flows") == [(0,)]


async def test_logout_ends_the_session_and_offers_the_providers_sign_out(sso: SSO) -> None:
    browser = sso.app.browser()
    assert (await sign_in(sso, browser)).status_code == 303
    home = await browser.get("/")
    out = await browser.post("/logout", data={"csrf_token": csrf_of(home)})
    assert out.status_code == 200 and "Sign out of Test ID too" in out.text
    end_session = sso.provider.metadata()["end_session_endpoint"]
    found = re.search(r'href="([^"]*/session/end[^"]*)"', out.text)
    assert found, out.text
    link = html.unescape(found.group(1))
    assert link.startswith(end_session + "?")
    assert parse_qs(urlsplit(link).query) == {
        "client_id": [sso.provider.client_id],
        "post_logout_redirect_uri": [sso.app.settings.public_url + "/"],
    }
    assert sso.app.query("SELECT count(*) FROM sessions") == [(0,)]
    async with httpx.AsyncClient(timeout=10, trust_env=False) as provider_browser:
        assert (await provider_browser.get(link)).status_code == 200  # its sign-out page


async def test_a_login_for_a_link_can_ask_more_scopes_and_hand_on_its_grant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extension point ACT_AS=oauth2 uses (one consent does both): a login made for a link
    asks `link_scopes` too, with prompt=consent, and `on_link_grant` gets the new session's
    cookie value and the grant; a login for no link asks only OIDC_SCOPES."""
    from launcher import compose
    from relying_party import TokenGrant
    from web.oidc_login import OidcLogin

    handed: list[tuple[str, TokenGrant]] = []

    async def keep(session_token: str, grant: TokenGrant) -> None:
        handed.append((session_token, grant))

    plain = compose.login_backend

    def with_hook(settings: Any) -> Any:
        backend = plain(settings)
        assert isinstance(backend, OidcLogin)
        backend.link_scopes = "offline_access"
        backend.on_link_grant = keep
        return backend

    monkeypatch.setattr(compose, "login_backend", with_hook)
    async with sso_app(tmp_path) as sso:
        plain_url = await start_sign_in(sso.app.browser())
        assert parse_qs(urlsplit(plain_url).query)["scope"] == ["openid email profile"]
        assert "prompt" not in parse_qs(urlsplit(plain_url).query)

        browser = sso.app.browser()
        await browser.get(urlsplit(await sso.app.link_for("U0ALICE")).path)
        url = await start_sign_in(browser, "/bind")
        request = parse_qs(urlsplit(url).query)
        assert request["scope"] == ["openid email profile offline_access"]
        assert request["prompt"] == ["consent"]
        done = await browser.get(CALLBACK, params=await at_provider(sso, url))
        assert done.status_code == 303
        [(session_token, grant)] = handed
        assert session_token == browser.cookies["session"]
        assert grant.refresh_token and grant.id_token_claims
        assert grant.id_token_claims["sub"] == "alice"


async def test_an_issuer_written_otherwise_than_the_provider_writes_it_stops_the_start(
    tmp_path: Path,
) -> None:
    """A trailing slash too many, or a provider that cannot be reached: one line at the start
    naming the setting, not a "try again in a minute" page for everyone later."""
    from processes import AppProcess, free_port

    with running_provider(tmp_path) as provider:
        for issuer, reason in (
            (provider.issuer + "/", "names another issuer"),
            (f"http://127.0.0.1:{free_port()}", "could not be reached"),
        ):
            app = AppProcess(
                tmp_path,
                AUTH="oidc",
                OIDC_ISSUER=issuer,
                OIDC_CLIENT_ID=provider.client_id,
                OIDC_CLIENT_SECRET=provider.client_secret,
                SANDBOX_PORT=str(free_port()),
                PROVIDER_TIMEOUT="3",
            )
            with pytest.raises(AssertionError, match="exited early"):
                await app.start()
            assert f"OIDC_ISSUER={issuer} cannot be used" in app.output, app.output
            assert reason in app.output and "Traceback" not in app.output
