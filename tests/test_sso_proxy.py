"""AUTH=proxy over real HTTP: an authenticating proxy (played by an httpx client on 127.0.0.1,
the one TRUSTED_PROXIES address) names the person in X-Forwarded-User; a client on 127.0.0.2
is anyone reaching the site around the proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import RunningApp, browser_headers, csrf_of, hidden_fields, run_app

from account_binding.audit import CAPPED_PER_HOUR

UNTRUSTED_ADDRESS = "127.0.0.2"
ISSUER = "proxy:x-forwarded-user"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    async with run_app(tmp_path, AUTH="proxy", TRUSTED_PROXIES="127.0.0.1") as running:
        yield running


def through_proxy(
    app: RunningApp, user: str | None, email: str | None = None, client: str = "203.0.113.5"
) -> httpx.AsyncClient:
    """A browser behind the proxy: the proxy adds who the person is and where they are."""
    browser = app.browser()
    browser.headers["X-Forwarded-For"] = client
    if user is not None:
        browser.headers["X-Forwarded-User"] = user
    if email is not None:
        browser.headers["X-Forwarded-Email"] = email
    return browser


def around_proxy(app: RunningApp, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A browser that reaches the site directly, from an address that is not the proxy's."""
    client = httpx.AsyncClient(
        base_url=app.base_url,
        follow_redirects=False,
        trust_env=False,
        transport=httpx.AsyncHTTPTransport(local_address=UNTRUSTED_ADDRESS),
        headers={**browser_headers(app.settings), **(headers or {})},
    )
    app.browsers.append(client)
    return client


async def test_the_person_the_proxy_names_binds_end_to_end(app: RunningApp) -> None:
    url = await app.link_for("U0ADA")
    browser = through_proxy(app, "Ada", "ada@acme.example")
    opened = await browser.get(urlsplit(url).path)
    assert opened.status_code == 303 and opened.headers["location"] == "/bind"
    asked = await browser.get("/bind")
    assert asked.status_code == 303 and asked.headers["location"] == "/login?next=%2Fbind"
    # The login step is automatic: a session made for this link, and back to /bind.
    login = await browser.get("/login", params={"next": "/bind"})
    assert login.status_code == 303 and login.headers["location"] == "/bind"
    assert login.cookies.get("session")
    page = await browser.get("/bind")
    assert page.status_code == 200 and "U0ADA" in page.text and "ada" in page.text
    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200 and "Connected" in done.text

    (user_id,) = app.query("SELECT id FROM users WHERE username = 'ada'")[0]
    assert app.query("SELECT user_id FROM bindings") == [(user_id,)]
    assert app.query("SELECT user_id, issuer, subject FROM user_identities") == [
        (user_id, ISSUER, "ada")
    ]
    assert app.query("SELECT email, password_hash FROM users") == [("ada@acme.example", "!")]
    # The audit log names the client the proxy forwarded, not the proxy.
    assert app.query("SELECT client, detail FROM audit_events WHERE event = 'login'") == [
        ("203.0.113.5", "proxy")
    ]
    answer = await app.command("U0ADA", "whoami")
    assert "ada" in answer[0].text


async def test_a_header_from_around_the_proxy_is_refused_and_audited(app: RunningApp) -> None:
    url = await app.link_for("U0ADA")
    # A forwarded-for naming the proxy changes nothing: the socket's peer is what counts.
    forged = {"X-Forwarded-User": "ada", "X-Forwarded-For": "127.0.0.1"}
    browser = around_proxy(app, forged)
    for path in (urlsplit(url).path, "/bind", "/login?next=/bind", "/", "/healthz"):
        refused = await browser.get(path)
        assert refused.status_code == 403, path
        assert "did not come through that proxy" in refused.text
        assert not refused.cookies
    email_only = await around_proxy(app, {"X-Forwarded-Email": "ada@acme.example"}).get("/")
    assert email_only.status_code == 403
    assert app.query("SELECT count(*) FROM users") == [(0,)]
    assert app.query("SELECT count(*) FROM sessions") == [(0,)]
    assert app.query(
        "SELECT event, client, detail FROM audit_events WHERE event LIKE 'proxy%'"
    ) == [("proxy_header_refused", UNTRUSTED_ADDRESS, "x-forwarded-user")] * 5 + [
        ("proxy_header_refused", UNTRUSTED_ADDRESS, "x-forwarded-email")
    ]


async def test_refusals_of_untrusted_headers_are_capped_in_the_audit_log(app: RunningApp) -> None:
    browser = around_proxy(app, {"X-Forwarded-User": "ada"})
    for _ in range(CAPPED_PER_HOUR + 5):
        assert (await browser.get("/")).status_code == 403
    assert app.query("SELECT count(*) FROM audit_events WHERE event = 'proxy_header_refused'") == [
        (CAPPED_PER_HOUR,)
    ]


async def test_the_health_check_and_machine_endpoints_need_no_header(app: RunningApp) -> None:
    for browser in (through_proxy(app, None), through_proxy(app, "ada"), around_proxy(app)):
        health = await browser.get("/healthz")
        assert health.status_code == 200 and health.text == "ok"
    direct = around_proxy(app)
    metadata = await direct.get("/.well-known/oauth-authorization-server")
    assert metadata.status_code == 200
    introspect = await direct.post("/oauth/introspect", data={"token": "x"})
    assert introspect.status_code == 401  # its own client authentication, not the proxy's
    api = await direct.get("/api/me")
    assert api.status_code == 401 and "error" in api.json()


async def test_without_the_header_the_login_says_the_proxy_did_not_name_you(
    app: RunningApp,
) -> None:
    for browser in (through_proxy(app, None), through_proxy(app, ""), around_proxy(app)):
        page = await browser.get("/login", params={"next": "/bind"})
        assert page.status_code == 401
        assert "did not say who you are" in page.text and "X-Forwarded-User" in page.text
        assert "You are not logged in" in (await browser.get("/")).text
    assert app.query("SELECT count(*) FROM sessions") == [(0,)]


async def test_a_session_of_someone_else_than_the_proxy_names_is_ended(app: RunningApp) -> None:
    ada = through_proxy(app, "ada")
    await ada.get("/login")
    cookie = ada.cookies.get("session")
    assert cookie and "logged in as <strong>ada</strong>" in (await ada.get("/")).text
    # The same browser, now with someone else at the proxy's sign-in.
    ada.headers["X-Forwarded-User"] = "bob"
    home = await ada.get("/")
    assert "You are not logged in" in home.text
    assert app.query("SELECT count(*) FROM sessions") == [(0,)]
    # Ada's session is gone on the server: her cookie no longer logs anyone in.
    ada.headers["X-Forwarded-User"] = "ada"
    ada.cookies.set("session", cookie, domain="127.0.0.1")
    assert "You are not logged in" in (await ada.get("/")).text


async def test_a_user_header_sent_twice_is_believed_in_neither_copy(app: RunningApp) -> None:
    """A proxy that appends its header beside one the client sent must not let the client
    choose who they are."""
    browser = through_proxy(app, None)
    response = await browser.get(
        "/login", headers=[("X-Forwarded-User", "mallory"), ("X-Forwarded-User", "ada")]
    )
    assert response.status_code == 400 and "twice" in response.text
    assert app.query("SELECT count(*) FROM users") == [(0,)]


async def test_a_local_account_is_not_taken_over_by_the_name_the_proxy_sends(
    app: RunningApp,
) -> None:
    local = await app.add_user("ada", "ada@acme.example")
    browser = through_proxy(app, "ada", "other@acme.example")
    refused = await browser.get("/login", params={"next": "/"})
    assert refused.status_code == 409
    assert "already an account named &#39;ada&#39;" in refused.text
    assert not refused.cookies.get("session")
    assert app.query("SELECT count(*) FROM user_identities") == [(0,)]
    assert app.query("SELECT count(*) FROM sessions WHERE user_id = ?", (local.id,)) == [(0,)]
    assert app.query("SELECT username, detail FROM audit_events WHERE event = 'login_failed'") == [
        ("ada", "proxy:username_taken")
    ]


async def test_logout_ends_the_session_and_says_the_proxy_still_knows_you(
    app: RunningApp,
) -> None:
    browser = through_proxy(app, "ada")
    await browser.get("/login")
    home = await browser.get("/")
    out = await browser.post("/logout", data={"csrf_token": csrf_of(home)})
    assert out.status_code == 200 and "still knows you" in out.text
    assert app.query("SELECT count(*) FROM sessions") == [(0,)]
