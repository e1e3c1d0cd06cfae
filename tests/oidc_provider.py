"""A real OpenID provider on loopback for the tests: panva's `oidc-provider` (OpenID Certified),
run by the machine's Node.js (18 or later: Debian 12's apt gives 18) from tools/oidc-provider,
pinned by its package-lock.json.

`running_provider(tmp_path, redirect_uris=[...])` starts `node provider.mjs --port N --config F`
on a free port with one confidential client (client_secret_basic, PKCE S256 required, refresh
tokens that rotate) and the test accounts of `ACCOUNTS`, waits (20 s at most) until its
`/.well-known/openid-configuration` answers (OpenID Connect Discovery 1.0, section 4), yields a
`RunningProvider` and stops the process. The `oidc_provider` fixture does the same with the
redirect URI `REDIRECT_URI`.

Without node or the npm package (`make test` installs both; by hand: `apt-get install nodejs
npm` and `npm ci --prefix tools/oidc-provider`) the tests fail in CI (`CI=true`) and skip
elsewhere, saying how to install.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.processes import free_port

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "tools" / "oidc-provider"
INSTALL_HINT = "install Node.js and npm (Debian: apt-get install nodejs npm), then run `npm ci --prefix tools/oidc-provider` (`make test` does both)"
START_DEADLINE_S = 20.0

# The test accounts: the key is the subject (`sub`); the values are the claims of the scopes
# `email` and `profile`. Log one in with `login_hint=<key>` on the authorization request.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {
        "email": "alice@example.com",
        "email_verified": True,
        "preferred_username": "alice",
        "name": "Alice Example",
    },
    "mallory": {
        "email": "mallory@elsewhere.example",
        "email_verified": False,
        "preferred_username": "mallory",
        "name": "Mallory Unverified",
    },
}
REDIRECT_URI = "http://127.0.0.1:9/callback"  # the discard port: never served, only compared


@dataclass(frozen=True)
class RunningProvider:
    """A provider serving at `issuer` (http://127.0.0.1:PORT, no trailing slash), with one
    confidential client allowed the `redirect_uris`."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    log: Path  # the provider's stdout and stderr

    def metadata(self) -> dict[str, Any]:
        """The discovery document (OpenID Connect Discovery 1.0, section 4)."""
        response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document


def missing(message: str) -> None:
    """Fail in CI, where the set-up must have installed the provider; skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def node_command() -> str:
    """The path of `node`, after checking that the npm package is installed."""
    node = shutil.which("node")
    if node is None:
        missing(f"Node.js is missing for the OpenID provider: {INSTALL_HINT}")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        missing(f"the npm package oidc-provider is not installed: {INSTALL_HINT}")
    assert node is not None
    return node


@contextmanager
def running_provider(
    tmp_path: Path,
    *,
    redirect_uris: list[str] | tuple[str, ...] = (REDIRECT_URI,),
    post_logout_redirect_uris: list[str] | tuple[str, ...] = (),
    accounts: dict[str, dict[str, Any]] | None = None,
    ttl: dict[str, int] | None = None,
    signing_key: dict[str, Any] | None = None,
    claims: dict[str, list[str]] | None = None,
    extra_clients: list[dict[str, Any]] | None = None,
    slow_refresh_seconds: float = 0.0,
) -> Iterator[RunningProvider]:
    """Run the provider until the block ends. `ttl` sets lifetimes in seconds per kind
    (`AccessToken`, `RefreshToken`, `IdToken`, ...); `signing_key` is the private JWK it signs
    with (so a test can sign tokens as it); `claims` maps scopes to claim names (replacing
    openid/email/profile's); `extra_clients` are more clients' metadata; `slow_refresh_seconds`
    delays each refresh's answer after its new tokens were issued. Raises AssertionError
    when it does not answer within 20 s or exits early."""
    node = node_command()
    port = free_port()
    client_id = "test-client"
    client_secret = secrets.token_urlsafe(32)
    config = {
        "clients": [
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": list(redirect_uris),
                "post_logout_redirect_uris": list(post_logout_redirect_uris),
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
            *(extra_clients or []),
        ],
        "accounts": ACCOUNTS if accounts is None else accounts,
        "ttl": ttl or {},
    }
    if signing_key is not None:
        config["signing_key"] = signing_key
    if claims is not None:
        config["claims"] = claims
    if slow_refresh_seconds:
        config["slow_refresh_ms"] = int(slow_refresh_seconds * 1000)
    config_file = tmp_path / f"oidc-provider-{port}.json"
    config_file.write_text(json.dumps(config))
    log = tmp_path / f"oidc-provider-{port}.log"
    issuer = f"http://127.0.0.1:{port}"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [node, "provider.mjs", "--port", str(port), "--config", str(config_file)],
            cwd=PROVIDER_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        )
    try:
        wait_until_serving(issuer, process, log)
        yield RunningProvider(issuer, client_id, client_secret, tuple(redirect_uris), log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_until_serving(issuer: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the OpenID provider exited ({process.returncode}):\n{log.read_text()}"
            )
        try:
            response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(
        f"the OpenID provider did not answer within {START_DEADLINE_S} s:\n{log.read_text()}"
    )


@pytest.fixture
def oidc_provider(tmp_path: Path) -> Iterator[RunningProvider]:
    """A running provider whose client has the redirect URI `REDIRECT_URI`."""
    with running_provider(tmp_path) as provider:
        yield provider


def sign_in_at_provider(
    browser: httpx.Client, authorization_url: str, redirect_uri: str, *, account: str = "alice"
) -> dict[str, str]:
    """Follow `authorization_url` through the provider's sign-in (its one-field form, as a
    person fills it, when the request has no `login_hint`) up to the redirect to
    `redirect_uri`, with `browser` (its cookies are the provider's session); returns that
    redirect's query parameters (`code` and `state`, or `error`). The redirect itself is not
    followed."""
    response = browser.get(authorization_url, follow_redirects=False)
    for _ in range(10):
        if response.status_code == 200 and "<form" in response.text:
            response = browser.post(
                str(response.url), data={"account": account}, follow_redirects=False
            )
        assert response.is_redirect, (response.status_code, response.text[:500])
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(redirect_uri):
            return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        response = browser.get(location, follow_redirects=False)
    raise AssertionError("the provider never redirected back to the client")


#: How the site's "Continuing to …" page goes on to the provider.
CONTINUE_TO = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)">')


def provider_url(response: httpx.Response) -> str:
    """The authorization request a sign-in, Connect (ACT_AS=oauth2) or Sign in with Slack
    button leads to: the site answers the button's post with a page of its own that goes on
    to it (web.authorization_requests), as a browser follows its meta refresh."""
    assert response.status_code == 200, (response.status_code, response.text[:500])
    found = CONTINUE_TO.search(response.text)
    assert found, response.text[:500]
    return html.unescape(found.group(1))
