"""VERIFY_SLACK_IDENTITY: before Connect works, the person signs in with Slack (OpenID Connect)
as the very Slack user, and workspace or Enterprise Grid organisation, the link was issued to.

The real app (uvicorn, the Bolt app on the fake Slack, SQLite) talks to a real OpenID provider
on loopback posing as Slack: its ID tokens carry Slack's claims `https://slack.com/user_id`
and `https://slack.com/team_id`, and its accounts are Slack users (the account's key is the
subject, as Slack's `sub` is the user ID). The fake Slack issues links to the workspace
T0SANDBOX and its users U0ADA and U0GRACE.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from account_binding.models import SlackIdentity
from account_binding.settings import SettingsError
from account_binding.slack_proof import same_person
from launcher.compose import command_table
from launcher.manifest import manifest_yaml
from tests.conftest import RunningApp, hidden_fields, login, make_settings, run_app
from tests.oidc_provider import RunningProvider, provider_url, running_provider, sign_in_at_provider
from web.slack_identity import (
    ENTERPRISE_ID_CLAIM,
    TEAM_ID_CLAIM,
    USER_ID_CLAIM,
    slack_identity_of,
)

#: PUBLIC_URL of the app under test: only compared (redirect URI, Origin), never connected to.
PUBLIC_URL = "http://localhost:8765"
CALLBACK = PUBLIC_URL + "/slack-identity/callback"
TEAM = "T0SANDBOX"

#: Slack users as the provider posing as Slack knows them; the key is the subject.
SLACK_ACCOUNTS: dict[str, dict[str, Any]] = {
    "U0ADA": {USER_ID_CLAIM: "U0ADA", TEAM_ID_CLAIM: TEAM},
    "U0GRACE": {USER_ID_CLAIM: "U0GRACE", TEAM_ID_CLAIM: TEAM},
    # Ada's user ID, but in another workspace: another person.
    "U0ADA-ELSEWHERE": {USER_ID_CLAIM: "U0ADA", TEAM_ID_CLAIM: "T0ELSEWHERE"},
}
SLACK_CLAIMS = {"openid": ["sub", USER_ID_CLAIM, TEAM_ID_CLAIM, ENTERPRISE_ID_CLAIM]}


@dataclass
class Setup:
    app: RunningApp
    slack: RunningProvider
    #: Stops the provider posing as Slack (then Slack is unreachable).
    stop_slack: Callable[[], None]


@contextlib.asynccontextmanager
async def verifying_app(tmp_path: Path) -> AsyncIterator[Setup]:
    with contextlib.ExitStack() as stack:
        slack = stack.enter_context(
            running_provider(
                tmp_path, redirect_uris=[CALLBACK], accounts=SLACK_ACCOUNTS, claims=SLACK_CLAIMS
            )
        )
        async with run_app(
            tmp_path,
            VERIFY_SLACK_IDENTITY="true",
            SLACK_CLIENT_ID=slack.client_id,
            SLACK_CLIENT_SECRET=slack.client_secret,
            SLACK_OPENID_ISSUER=slack.issuer,
            PUBLIC_URL=PUBLIC_URL,
            PROVIDER_TIMEOUT="5",
        ) as app:
            yield Setup(app, slack, stack.close)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with verifying_app(tmp_path) as made:
        yield made


async def open_link(
    app: RunningApp, username: str, slack_user: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """`username` (made if need be) opens a link issued to `slack_user` and logs in for it."""
    if username not in app.users:
        await app.add_user(username)
    url = await app.link_for(slack_user)
    return await app.open_link_as(username, url)


async def start_sign_in(browser: httpx.AsyncClient, page: httpx.Response) -> str:
    """Press Sign in with Slack on the confirm page `page`; the authorization request's URL."""
    assert page.status_code == 200, page.text
    assert 'action="/slack-identity/start"' in page.text
    started = await browser.post("/slack-identity/start", data=hidden_fields(page))
    assert started.status_code == 200, started.text
    return provider_url(started)


async def sign_in_at_slack(authorization_url: str, slack_account: str) -> dict[str, str]:
    """Sign in at the provider posing as Slack as `slack_account`, in a browser of its own;
    the query Slack sends back to the callback (code and state)."""

    def sign_in() -> dict[str, str]:
        with httpx.Client(trust_env=False) as at_slack:
            return sign_in_at_provider(at_slack, authorization_url, CALLBACK, account=slack_account)

    return await asyncio.to_thread(sign_in)


async def come_back(browser: httpx.AsyncClient, query: dict[str, str]) -> httpx.Response:
    """Slack's redirect back to the app, followed by `browser`."""
    return await browser.get("/slack-identity/callback", params=query)


async def sign_in_with_slack(
    browser: httpx.AsyncClient, page: httpx.Response, slack_account: str
) -> httpx.Response:
    url = await start_sign_in(browser, page)
    return await come_back(browser, await sign_in_at_slack(url, slack_account))


def bindings_of(app: RunningApp, slack_user: str) -> list[tuple[object, ...]]:
    return app.query("SELECT user_id FROM bindings WHERE slack_user_id = ?", (slack_user,))


def audit(app: RunningApp, event: str) -> list[tuple[object, ...]]:
    return app.query(
        "SELECT username, scope_id, slack_user_id, detail FROM audit_events WHERE event = ?",
        (event,),
    )


def asks_to_sign_in_with_slack(page: httpx.Response) -> bool:
    return 'action="/slack-identity/start"' in page.text and 'value="connect"' not in page.text


async def test_the_right_slack_user_binds_after_signing_in_with_slack(setup: Setup) -> None:
    app = setup.app
    browser, page = await open_link(app, "ada", "U0ADA")
    assert asks_to_sign_in_with_slack(page)
    # The post is answered by a page of this site that goes on to Slack, so no form is ever
    # redirected off the site and form-action stays 'self'.
    assert "form-action 'self';" in page.headers["content-security-policy"]

    url = await start_sign_in(browser, page)
    assert url.startswith(setup.slack.metadata()["authorization_endpoint"] + "?")
    request = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert request["scope"] == "openid"
    assert request["redirect_uri"] == CALLBACK
    assert request["team"] == TEAM  # picks the link's workspace at Slack
    assert request["code_challenge_method"] == "S256" and request["nonce"] and request["state"]

    back = await come_back(browser, await sign_in_at_slack(url, "U0ADA"))
    assert back.status_code == 303 and back.headers["location"] == "/bind", back.text
    page = await browser.get("/bind")
    assert 'value="connect"' in page.text and "/slack-identity/start" not in page.text
    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200, done.text
    assert bindings_of(app, "U0ADA") == [(app.users["ada"].id,)]
    assert audit(app, "slack_identity_mismatch") == []


async def test_a_forwarded_link_signed_in_as_another_slack_user_is_refused_audited_and_voided(
    setup: Setup,
) -> None:
    app = setup.app
    # Ada's link reached Mallory, who logs in to her own account and signs in to Slack as
    # herself (Grace's Slack account, say): not the person the link was made for.
    browser, page = await open_link(app, "mallory", "U0ADA")
    refused = await sign_in_with_slack(browser, page, "U0GRACE")
    assert refused.status_code == 403, refused.text
    assert "someone other than the person this link was made for" in refused.text
    assert audit(app, "slack_identity_mismatch") == [
        ("mallory", TEAM, "U0ADA", f"signed in to Slack as {TEAM}/U0GRACE")
    ]
    # The link was voided: nobody can use it any more.
    assert app.query("SELECT used_at IS NOT NULL FROM binding_requests") == [(1,)]
    assert (await browser.get("/bind")).status_code == 410
    confirm = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert confirm.status_code != 200
    assert bindings_of(app, "U0ADA") == []


async def test_the_same_user_id_in_another_workspace_is_refused(setup: Setup) -> None:
    app = setup.app
    browser, page = await open_link(app, "ada", "U0ADA")
    refused = await sign_in_with_slack(browser, page, "U0ADA-ELSEWHERE")
    assert refused.status_code == 403, refused.text
    assert audit(app, "slack_identity_mismatch") == [
        ("ada", TEAM, "U0ADA", "signed in to Slack as T0ELSEWHERE/U0ADA")
    ]
    assert app.query("SELECT used_at IS NOT NULL FROM binding_requests") == [(1,)]
    assert bindings_of(app, "U0ADA") == []


async def test_connect_without_signing_in_with_slack_is_refused_and_cancel_is_not(
    setup: Setup,
) -> None:
    app = setup.app
    browser, page = await open_link(app, "ada", "U0ADA")
    # A hand-made post with the page's own fields, skipping Sign in with Slack.
    refused = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert refused.status_code == 403, refused.text
    assert "Sign in with Slack first" in refused.text
    assert bindings_of(app, "U0ADA") == []
    assert app.query("SELECT used_at FROM binding_requests") == [(None,)]  # the link works
    cancelled = await browser.post("/bind", data={**hidden_fields(page), "action": "cancel"})
    assert cancelled.status_code == 200, cancelled.text
    assert app.query("SELECT used_at IS NOT NULL FROM binding_requests") == [(1,)]


async def test_a_replayed_callback_is_refused(setup: Setup) -> None:
    app = setup.app
    browser, page = await open_link(app, "ada", "U0ADA")
    query = await sign_in_at_slack(await start_sign_in(browser, page), "U0ADA")
    flow_cookie = browser.cookies["sso_flow"]
    assert (await come_back(browser, query)).status_code == 303
    assert "sso_flow" not in browser.cookies  # forgotten once used
    # Replayed by the browser that began it, its flow cookie put back: the state is used up.
    browser.cookies.set("sso_flow", flow_cookie, domain="127.0.0.1")
    replayed = await come_back(browser, query)
    assert replayed.status_code == 400, replayed.text
    assert "was already used" in replayed.text
    assert audit(app, "slack_error") == []  # refused before Slack was asked anything


async def test_a_callback_in_another_session_proves_nothing(setup: Setup) -> None:
    app = setup.app
    browser, page = await open_link(app, "ada", "U0ADA")
    query = await sign_in_at_slack(await start_sign_in(browser, page), "U0ADA")
    # Before Slack's answer comes back, this browser's session is replaced by another login
    # made for the same link (the session ended; someone logged in again at this browser).
    browser.cookies.delete("session")
    assert (await login(browser, "ada", next_path="/bind")).status_code == 303
    back = await come_back(browser, query)
    assert back.status_code == 403, back.text
    assert "started in another login session" in back.text
    page = await browser.get("/bind")
    assert asks_to_sign_in_with_slack(page)  # the new session proved nothing
    refused = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert refused.status_code == 403
    assert bindings_of(app, "U0ADA") == []


async def test_a_callback_in_another_browser_proves_nothing(setup: Setup) -> None:
    app = setup.app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    browser, page = await app.open_link_as("ada", url)
    query = await sign_in_at_slack(await start_sign_in(browser, page), "U0ADA")
    # Another browser, logged in for the same link, is sent the callback URL: it lacks the
    # flow cookie of the browser that began the sign-in.
    other, _ = await app.open_link_as("ada", url)
    refused = await come_back(other, query)
    assert refused.status_code == 400, refused.text
    assert asks_to_sign_in_with_slack(await other.get("/bind"))
    # That attempt used the flow up: its own browser cannot finish it either.
    assert (await come_back(browser, query)).status_code == 400
    assert asks_to_sign_in_with_slack(await browser.get("/bind"))


async def test_a_callback_after_another_link_was_opened_proves_nothing(setup: Setup) -> None:
    app = setup.app
    browser, page = await open_link(app, "ada", "U0ADA")
    query = await sign_in_at_slack(await start_sign_in(browser, page), "U0ADA")
    # Meanwhile another link (Grace's, forwarded to Ada) is opened in this browser.
    await browser.get(urlsplit(await app.link_for("U0GRACE")).path)
    back = await come_back(browser, query)
    assert back.status_code == 409, back.text
    assert app.query("SELECT slack_verified_link_hash FROM sessions") == [(None,)]


async def test_slack_refusing_the_sign_in_keeps_the_link(setup: Setup) -> None:
    app = setup.app
    browser, page = await open_link(app, "ada", "U0ADA")
    url = await start_sign_in(browser, page)
    state = parse_qs(urlsplit(url).query)["state"][0]
    # The person pressed Cancel at Slack: Slack sends them back with error=access_denied.
    back = await come_back(
        browser, {"error": "access_denied", "error_description": "no", "state": state}
    )
    assert back.status_code == 403, back.text
    assert "You did not sign in with Slack (Slack said: access_denied)" in back.text
    assert 'href="/bind"' in back.text
    assert app.query("SELECT used_at FROM binding_requests") == [(None,)]
    page = await browser.get("/bind")
    assert page.status_code == 200 and asks_to_sign_in_with_slack(page)
    # Signing in afterwards works.
    back = await sign_in_with_slack(browser, page, "U0ADA")
    assert back.status_code == 303, back.text


async def test_slack_unreachable_gives_503_and_keeps_the_link(setup: Setup) -> None:
    app = setup.app
    browser, page = await open_link(app, "ada", "U0ADA")
    query = await sign_in_at_slack(await start_sign_in(browser, page), "U0ADA")
    setup.stop_slack()
    back = await come_back(browser, query)
    assert back.status_code == 503, back.text
    assert back.headers["retry-after"] == "60"
    assert audit(app, "slack_error") == [("ada", TEAM, "U0ADA", "Sign in with Slack")]
    assert audit(app, "slack_identity_mismatch") == []
    assert app.query("SELECT used_at FROM binding_requests") == [(None,)]
    assert (await browser.get("/bind")).status_code == 200
    assert bindings_of(app, "U0ADA") == []


async def test_without_the_setting_there_is_no_slack_step(tmp_path: Path) -> None:
    async with run_app(tmp_path) as app:
        browser, page = await open_link(app, "ada", "U0ADA")
        assert 'value="connect"' in page.text and "/slack-identity/start" not in page.text
        assert "form-action 'self';" in page.headers["content-security-policy"]
        started = await browser.post("/slack-identity/start", data=hidden_fields(page))
        assert started.status_code == 404
        assert (await browser.get("/slack-identity/callback")).status_code == 404


def test_the_setting_needs_an_https_public_url_unless_slack_is_on_loopback(
    tmp_path: Path,
) -> None:
    def settings(**extra: str) -> object:
        return make_settings(
            tmp_path,
            8000,
            "http://127.0.0.1:9/api/",
            VERIFY_SLACK_IDENTITY="true",
            SLACK_CLIENT_ID="123.456",
            SLACK_CLIENT_SECRET="a-client-secret",
            **extra,
        )

    with pytest.raises(SettingsError, match="https:// PUBLIC_URL"):
        settings(PUBLIC_URL="http://slack-binding.intranet.example")
    with pytest.raises(SettingsError, match="https:// PUBLIC_URL"):
        settings()  # PUBLIC_URL derived from PORT: http://localhost:8000
    settings(PUBLIC_URL="https://slack-binding.intranet.example")
    settings(PUBLIC_URL="http://localhost:8000", SLACK_OPENID_ISSUER="http://127.0.0.1:9")
    with pytest.raises(SettingsError, match="SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"):
        make_settings(
            tmp_path,
            8000,
            "http://127.0.0.1:9/api/",
            VERIFY_SLACK_IDENTITY="true",
            PUBLIC_URL="https://slack-binding.intranet.example",
        )


def test_the_manifest_lists_the_callback_as_a_redirect_url(tmp_path: Path) -> None:
    """`account-binding manifest` with this setting lists PUBLIC_URL's callback (issue 10:
    the manifest is made from the settings; manifest.yml is the default's, without it)."""
    settings = make_settings(
        tmp_path,
        8000,
        "http://127.0.0.1:9/api/",
        VERIFY_SLACK_IDENTITY="true",
        PUBLIC_URL="https://slack-binding.intranet.example",
        SLACK_CLIENT_ID="1234567890.1234567890",
        SLACK_CLIENT_SECRET="slack-client-secret",
    )
    made = yaml.safe_load(manifest_yaml(settings, command_table(settings)))
    (url,) = made["oauth_config"]["redirect_urls"]
    assert url == "https://slack-binding.intranet.example/slack-identity/callback"
    assert made["oauth_config"]["scopes"]["user"] == ["openid"]


def grid(team_id: str, user_id: str, enterprise_id: str | None) -> SlackIdentity:
    return SlackIdentity.from_ids(team_id=team_id, user_id=user_id, enterprise_id=enterprise_id)


def test_on_enterprise_grid_the_organisation_is_compared_not_the_workspace() -> None:
    link = grid("T0ONE", "W0ADA", "E0ORG")
    # A Grid user keeps one ID across the organisation's workspaces.
    assert same_person(link, grid("T0TWO", "W0ADA", "E0ORG"))
    assert not same_person(link, grid("T0TWO", "W0ADA", "E0OTHER"))
    assert not same_person(link, grid("T0ONE", "W0ADA", "E0OTHER"))
    assert not same_person(link, grid("T0ONE", "W0GRACE", "E0ORG"))
    # Without Slack naming the organisation, only the very workspace counts.
    assert same_person(link, grid("T0ONE", "W0ADA", None))
    assert not same_person(link, grid("T0TWO", "W0ADA", None))
    # Outside Grid, the workspace.
    assert same_person(grid("T0ONE", "U0ADA", None), grid("T0ONE", "U0ADA", None))
    assert not same_person(grid("T0ONE", "U0ADA", None), grid("T0TWO", "U0ADA", None))


def test_only_well_formed_slack_claims_name_a_slack_user() -> None:
    claims = {USER_ID_CLAIM: "W0ADA", TEAM_ID_CLAIM: "T0ONE", ENTERPRISE_ID_CLAIM: "E0ORG"}
    assert slack_identity_of(claims) == grid("T0ONE", "W0ADA", "E0ORG")
    assert slack_identity_of({**claims, ENTERPRISE_ID_CLAIM: None}) == grid("T0ONE", "W0ADA", None)
    assert slack_identity_of({"sub": "W0ADA", TEAM_ID_CLAIM: "T0ONE"}) is None
    assert slack_identity_of({USER_ID_CLAIM: "W0ADA"}) is None
    assert slack_identity_of({USER_ID_CLAIM: "w0ada\n", TEAM_ID_CLAIM: "T0ONE"}) is None
    assert slack_identity_of({USER_ID_CLAIM: ["W0ADA"], TEAM_ID_CLAIM: "T0ONE"}) is None


def test_bolt_does_not_take_the_sign_in_credentials_for_an_oauth_installation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bolt builds an OAuth installation flow from SLACK_CLIENT_ID and SLACK_CLIENT_SECRET in
    the environment, and then authorises commands by installations it does not have; the app
    is built without it, and the environment is left as it was."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bolt_app.app import build_bolt_app

    monkeypatch.setenv("SLACK_CLIENT_ID", "1234.5678")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "sign-in-with-slack-secret")
    app = build_bolt_app(AsyncWebClient(token="xoxb-1"), None)  # type: ignore[arg-type]
    assert app.oauth_flow is None
    assert os.environ["SLACK_CLIENT_ID"] == "1234.5678"
