"""Token introspection (RFC 7662) and authorization server metadata (RFC 8414) through the real
app: uvicorn serving the site, the Bolt app on a fake Slack, a real SQLite file."""

from __future__ import annotations

import base64
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from conftest import RunningApp, run_app
from processes import run_command
from unbinding import disconnect

from account_binding.audit import CAPPED_PER_HOUR, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.errors import BindingExpired
from account_binding.models import SlackIdentity, SlackPerson
from account_binding.settings import SettingsError, load_settings
from account_binding.store import AuditFilter

CLIENT_ID = "company-api"
CLIENT_SECRET = "Zq8vN3kT1rW6yB0mC5xL7pD2sH9gF4jA"  # 32 random characters
INTROSPECTION = {"INTROSPECTION_CLIENT_ID": CLIENT_ID, "INTROSPECTION_CLIENT_SECRET": CLIENT_SECRET}
INTROSPECT = "/oauth/introspect"
ADA = "U0ADA"
ADA_IDENTITY = SlackIdentity.from_ids(team_id="T0SANDBOX", user_id=ADA, enterprise_id=None)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    async with run_app(tmp_path, **INTROSPECTION) as running:
        yield running


def machine(app: RunningApp) -> httpx.AsyncClient:
    """A company's API: no cookies, no Origin, no Sec-Fetch-Site; it is not a browser."""
    client = httpx.AsyncClient(base_url=app.base_url, trust_env=False)
    app.browsers.append(client)  # closed with the app
    return client


async def introspect(
    app: RunningApp,
    token: str,
    auth: tuple[str, str] | None = (CLIENT_ID, CLIENT_SECRET),
) -> httpx.Response:
    return await machine(app).post(INTROSPECT, data={"token": token}, auth=auth)


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 section 2.3.1: each part form-urlencoded, then joined and base64-encoded."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def token_row(app: RunningApp) -> tuple[Any, ...]:
    [row] = app.query("SELECT created_at, expires_at FROM api_tokens")
    return row


async def test_an_active_token_is_introspected_with_its_claims(app: RunningApp) -> None:
    token = await app.bind("ada", ADA)
    answer = await introspect(app, token)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"] == "application/json"
    issued_at, _ = token_row(app)
    assert answer.json() == {
        "active": True,
        "sub": "ada",
        "username": "ada",
        "email": "ada@example.com",
        "iat": issued_at,
        "scope": "api",
        "token_type": "Bearer",
        "iss": app.settings.public_url,
    }
    # client_secret_post works too, and token_type_hint is ignored (RFC 7662 section 2.1).
    posted = await machine(app).post(
        INTROSPECT,
        data={
            "token": token,
            "token_type_hint": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert posted.json() == answer.json()


async def test_client_secret_basic_form_urlencodes_the_id_and_secret(tmp_path: Path) -> None:
    client_id, secret = "company api:1", CLIENT_SECRET + "+/:%"
    async with run_app(
        tmp_path, INTROSPECTION_CLIENT_ID=client_id, INTROSPECTION_CLIENT_SECRET=secret
    ) as app:
        token = await app.bind("ada", ADA)
        answer = await machine(app).post(
            INTROSPECT,
            data={"token": token},
            headers={"Authorization": basic(client_id, secret)},
        )
        assert answer.status_code == 200 and answer.json()["active"] is True, answer.text


async def test_unlink_in_slack_makes_a_token_inactive_at_once(app: RunningApp) -> None:
    token = await app.bind("ada", ADA)
    assert (await introspect(app, token)).json()["active"] is True
    await disconnect(app, ADA)
    answer = await introspect(app, token)
    assert answer.status_code == 200 and answer.json() == {"active": False}


async def test_unbind_by_an_administrator_makes_a_token_inactive_at_once(
    app: RunningApp, tmp_path: Path
) -> None:
    token = await app.bind("ada", ADA)
    assert (await introspect(app, token)).json()["active"] is True
    code, out, err = await run_command(
        tmp_path, "unbind", f"T0SANDBOX/{ADA}", SECRET_KEY=app.settings.secret_key()
    )
    assert code == 0 and "Removed the binding" in out, err
    assert (await introspect(app, token)).json() == {"active": False}


async def test_an_expired_token_is_inactive_and_its_binding_expires(tmp_path: Path) -> None:
    async with run_app(tmp_path, API_TOKEN_TTL="3600", **INTROSPECTION) as app:
        token = await app.bind("ada", ADA)
        issued_at, expires_at = token_row(app)
        assert expires_at == issued_at + 3600
        active = (await introspect(app, token)).json()
        assert active["active"] is True and (active["iat"], active["exp"]) == (
            issued_at,
            expires_at,
        )

        past = int(time.time()) - 1
        with sqlite3.connect(app.settings.database) as db:
            db.execute("UPDATE api_tokens SET expires_at = ?", [past])
        assert (await introspect(app, token)).json() == {"active": False}
        api = await machine(app).get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 401  # the stand-in API refuses it as well

        # What the Slack side meets at the next command: the domain removes the binding.
        bindings = BindingService(
            app.store,
            TokenCipher(app.settings.secret_key()),
            AuditLog(app.store),
            _NoDirectory(),
            BindingPolicy(api_token_ttl=3600),
        )
        with pytest.raises(BindingExpired):
            await bindings.bound_account(ADA_IDENTITY)
        assert await bindings.bound_account(ADA_IDENTITY) is None
        [row] = await app.store.list_audit(AuditFilter(event="unbound"))
        assert (row.username, row.detail) == ("ada", "token expired")


class _NoDirectory:
    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return None


async def test_introspection_refuses_clients_without_the_right_credentials(
    app: RunningApp,
) -> None:
    token = await app.bind("ada", ADA)
    client = machine(app)
    refusals = {
        "no credentials": await client.post(INTROSPECT, data={"token": token}),
        "wrong secret": await introspect(app, token, (CLIENT_ID, CLIENT_SECRET[:-1] + "x")),
        "wrong id": await introspect(app, token, ("other-api", CLIENT_SECRET)),
        "secret as Bearer": await client.post(
            INTROSPECT, data={"token": token}, headers={"Authorization": f"Bearer {CLIENT_SECRET}"}
        ),
        "basic as Bearer": await client.post(
            INTROSPECT,
            data={"token": token},
            headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET).replace("Basic", "Bearer")},
        ),
        "the token itself as Bearer": await client.post(
            INTROSPECT, data={"token": token}, headers={"Authorization": f"Bearer {token}"}
        ),
        "malformed Basic": await client.post(
            INTROSPECT, data={"token": token}, headers={"Authorization": "Basic not-base64!"}
        ),
        "wrong secret posted": await client.post(
            INTROSPECT,
            data={"token": token, "client_id": CLIENT_ID, "client_secret": "x" * 32},
        ),
    }
    for case, answer in refusals.items():
        assert answer.status_code == 401, case
        assert answer.json()["error"] == "invalid_client", case
        assert answer.headers["www-authenticate"].startswith("Basic"), case
        assert "active" not in answer.json() and "ada" not in answer.text, case
    rows = await app.store.list_audit(AuditFilter(event="introspection_refused"))
    assert {row.detail for row in rows} == {
        "no_credentials",
        "wrong_credentials",
        "not_basic",
        "malformed_credentials",
    }
    assert all(row.client == "127.0.0.1" for row in rows)


async def test_introspection_answers_inactive_for_every_token_that_does_not_work(
    app: RunningApp,
) -> None:
    token = await app.bind("ada", ADA)
    await app.bind("grace", "U0GRACE")
    await disconnect(app, ADA)  # revoked
    for case in (
        token,  # revoked
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # unknown, of the right shape
        "abt_" + "a" * 200,  # too long to be one
        "xoxb-not-a-personal-token",  # a token of another shape
        CLIENT_SECRET,
        " ",
    ):
        answer = await introspect(app, case)
        assert answer.status_code == 200 and answer.json() == {"active": False}, case


async def test_introspection_refuses_malformed_requests(app: RunningApp) -> None:
    client = machine(app)
    auth = (CLIENT_ID, CLIENT_SECRET)
    no_token = await client.post(INTROSPECT, data={"token_type_hint": "access_token"}, auth=auth)
    empty_token = await client.post(INTROSPECT, data={"token": ""}, auth=auth)
    twice = await client.post(INTROSPECT, content=b"token=a&token=b", auth=auth, headers=FORM)
    as_json = await client.post(INTROSPECT, json={"token": "abt_x"}, auth=auth)
    not_a_form = await client.post(
        INTROSPECT, content=b"token=abt_x", auth=auth, headers={"Content-Type": "text/plain"}
    )
    not_utf8 = await client.post(
        INTROSPECT, content=b"token=abt_x&note=%ff", auth=auth, headers=FORM
    )
    raw_not_utf8 = await client.post(
        INTROSPECT, content=b"token=abt_x&note=\xff", auth=auth, headers=FORM
    )
    both_ways = await client.post(
        INTROSPECT,
        data={"token": "abt_x", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        auth=auth,
    )
    for answer in (
        no_token,
        empty_token,
        twice,
        as_json,
        not_a_form,
        not_utf8,
        raw_not_utf8,
        both_ways,
    ):
        assert answer.status_code == 400, answer.request.content
        assert answer.json()["error"] == "invalid_request"
    get = await client.get(INTROSPECT, auth=auth)
    assert get.status_code == 405 and get.json()["error"] == "invalid_request"


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_an_oversized_introspection_body_is_refused_before_it_is_read(
    app: RunningApp,
) -> None:
    body = b"token=abt_" + b"a" * app.settings.max_body_bytes
    answer = await machine(app).post(
        INTROSPECT, content=body, auth=(CLIENT_ID, CLIENT_SECRET), headers=FORM
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "invalid_request"


async def test_failed_client_authentication_is_audited_within_the_cap(app: RunningApp) -> None:
    for _ in range(CAPPED_PER_HOUR + 5):
        answer = await introspect(app, "abt_x", (CLIENT_ID, "y" * 32))
        assert answer.status_code == 401
    rows = await app.store.list_audit(AuditFilter(event="introspection_refused", limit=1000))
    assert len(rows) == CAPPED_PER_HOUR


async def test_introspection_is_not_a_browser_form(app: RunningApp) -> None:
    """A machine client sends no Origin and no CSRF token; a post marked cross-site is still
    answered on its client credentials alone (they are what protects it)."""
    token = await app.bind("ada", ADA)
    answer = await machine(app).post(
        INTROSPECT,
        data={"token": token},
        auth=(CLIENT_ID, CLIENT_SECRET),
        headers={"Origin": "https://elsewhere.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 200 and answer.json()["active"] is True


async def test_without_client_settings_introspection_refuses_everyone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="launcher")
    # The warning is for a company's own API (INTERNAL_API_URL elsewhere); the stand-in checks
    # tokens in process.
    async with run_app(tmp_path, INTERNAL_API_URL="http://127.0.0.1:9") as app:
        assert "INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET are not set" in caplog.text
        token = await app.bind("ada", ADA)
        for auth in ((CLIENT_ID, CLIENT_SECRET), ("", ""), None):
            answer = await introspect(app, token, auth)
            assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
        rows = await app.store.list_audit(AuditFilter(event="introspection_refused"))
        assert {row.detail for row in rows} == {"not_configured", "no_credentials"}


async def test_the_metadata_names_the_introspection_endpoint_under_public_url(
    tmp_path: Path,
) -> None:
    public = "https://binding.intranet.example"
    async with run_app(tmp_path, PUBLIC_URL=public, **INTROSPECTION) as app:
        answer = await machine(app).get("/.well-known/oauth-authorization-server")
    assert answer.status_code == 200
    metadata = answer.json()
    assert metadata["issuer"] == public
    assert metadata["introspection_endpoint"] == public + INTROSPECT
    assert metadata["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert metadata["scopes_supported"] == ["api"]
    # Honest: no endpoint or flow it does not have, and no empty lists (RFC 8414 3.2).
    for absent in ("authorization_endpoint", "token_endpoint", "grant_types_supported"):
        assert absent not in metadata
    assert all(value != [] for value in metadata.values())


def test_introspection_settings_come_in_pairs_with_a_strong_secret(tmp_path: Path) -> None:
    base = {"DATABASE": str(tmp_path / "app.sqlite3")}
    for extra, message in (
        ({"INTROSPECTION_CLIENT_ID": CLIENT_ID}, "set both, or neither"),
        ({"INTROSPECTION_CLIENT_SECRET": CLIENT_SECRET}, "set both, or neither"),
        (
            {"INTROSPECTION_CLIENT_ID": CLIENT_ID, "INTROSPECTION_CLIENT_SECRET": "short-secret"},
            "INTROSPECTION_CLIENT_SECRET must be at least 32",
        ),
        ({"API_TOKEN_TTL": "59"}, "API_TOKEN_TTL must be between 60"),
        ({"ACT_AS": "saml"}, "ACT_AS must be token, service or oauth2"),
    ):
        with pytest.raises(SettingsError) as raised:
            load_settings({**base, **extra}, env_file=None)
        assert message in str(raised.value) and "short-secret" not in str(raised.value)
    settings = load_settings({**base, **INTROSPECTION, "API_TOKEN_TTL": "3600"}, env_file=None)
    assert (settings.introspection_client_id, settings.api_token_ttl) == (CLIENT_ID, 3600)
    assert CLIENT_SECRET not in repr(settings)


async def test_api_token_ttl_also_bounds_tokens_issued_before_it_was_set(tmp_path: Path) -> None:
    """Expiry was stamped into api_tokens.expires_at at binding, so setting API_TOKEN_TTL
    later (or lowering it) never bounded the tokens already out. A token is expired at the
    earlier of its stamped expiry and its issue time plus the current API_TOKEN_TTL: at
    introspection, at the stand-in's API and on the Slack side."""
    async with run_app(tmp_path, **INTROSPECTION) as app:  # no API_TOKEN_TTL yet
        token = await app.bind("ada", ADA)
        year_ago = int(time.time()) - 365 * 86400
        app.query("UPDATE api_tokens SET created_at = ?", (year_ago,))
        app.query("UPDATE bindings SET created_at = ?", (year_ago,))
    async with run_app(tmp_path, API_TOKEN_TTL="3600", **INTROSPECTION) as app:
        assert (await introspect(app, token)).json() == {"active": False}
        me = await machine(app).get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
        answer = await app.command(ADA, "whoami")  # a new link, saying why
        assert "has expired" in str(answer[-1]) and "/bind/" in answer[-1].text, answer
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]
        [(revoked_at,)] = app.query("SELECT revoked_at FROM api_tokens")
        assert revoked_at is not None


async def test_a_lowered_api_token_ttl_shortens_the_exp_of_tokens_already_issued(
    tmp_path: Path,
) -> None:
    """A token stamped to expire in a day, after API_TOKEN_TTL is lowered to an hour, expires
    an hour after its issue, and introspection says so in `exp`."""
    async with run_app(tmp_path, API_TOKEN_TTL="86400", **INTROSPECTION) as app:
        token = await app.bind("ada", ADA)
        issued_at, expires_at = token_row(app)
        assert expires_at == issued_at + 86400
    async with run_app(tmp_path, API_TOKEN_TTL="3600", **INTROSPECTION) as app:
        claims = (await introspect(app, token)).json()
        assert claims["active"] is True and claims["exp"] == issued_at + 3600, claims


async def test_switching_to_act_as_service_retires_the_personal_tokens(tmp_path: Path) -> None:
    """Under ACT_AS=service the Slack side presents no personal token, so none is honoured:
    introspection answers inactive and the stand-in refuses them. They are treated as
    inactive, not revoked: switching back to ACT_AS=token makes them work again (within
    API_TOKEN_TTL), so nobody has to link again after trying service mode."""
    service = {"ACT_AS": "service", "INTERNAL_API_TOKEN": "SERVICEtoken4d8f2a9c7e1b"}
    async with run_app(tmp_path, **INTROSPECTION) as app:
        token = await app.bind("ada", ADA)
    async with run_app(tmp_path, **service, **INTROSPECTION) as app:
        assert "ada" in (await app.command(ADA, "whoami"))[-1].text  # bound, in service mode
        assert (await introspect(app, token)).json() == {"active": False}
        me = await machine(app).get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401, me.text
        assert "personal API token" not in me.json()["error"]  # only the service credential
        as_ada = await machine(app).get(
            "/api/me",
            headers={
                "Authorization": f"Bearer {service['INTERNAL_API_TOKEN']}",
                "Impersonate-User": "ada",
            },
        )
        assert as_ada.status_code == 200 and as_ada.json()["username"] == "ada"
    async with run_app(tmp_path, **INTROSPECTION) as app:  # back to ACT_AS=token
        assert (await introspect(app, token)).json()["active"] is True
        me = await machine(app).get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["username"] == "ada"
