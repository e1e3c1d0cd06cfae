"""Attacks on issue 8's surface (helper "attacker"): each test fails while its finding stands."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import free_socket, run_app
from recording_api import RecordingApi, recording_api
from starlette.applications import Starlette

from account_binding.settings import SettingsError, load_settings

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-SECRETBOTTOKEN",
    "SLACK_APP_TOKEN": "xapp-1-SECRETAPPTOKEN",
    "SECRET_KEY": "Kq8vX2mP9rT4wY7zB3nF6hJ1cL5dG0sA",
    "ACT_AS": "service",
    "INTERNAL_API_TOKEN": "SERVICEtoken4d8f2a9c7e1b",
    "INTROSPECTION_CLIENT_ID": "company-api",
    "INTROSPECTION_CLIENT_SECRET": "Zp4Qw8Er2Ty6Ui0Op3As7Df1Gh5Jk9Lz",
}
SECRET_VALUES = [v for k, v in SECRETS.items() if k not in ("ACT_AS", "INTROSPECTION_CLIENT_ID")]


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """`app` on loopback; its base URL."""
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


# --- Settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["1.2.3.4:80", "[::1]", "[", "a:b:c"])
def test_a_start_error_across_settings_echoes_no_secret(tmp_path: Path, host: str) -> None:
    """HIGH: a ValueError in the cross-setting validator (here from ipaddress, via
    _host_in_url/_url) reaches _message with loc=() and input = every setting given, so the
    one line printed at start holds SECRET_KEY, both Slack tokens, INTERNAL_API_TOKEN and the
    introspection secret in clear."""
    environ = {**SECRETS, "DATABASE": str(tmp_path / "db"), "HOST": host}
    with pytest.raises(SettingsError) as raised:
        load_settings(environ, env_file=None)
    message = str(raised.value)
    leaked = [secret for secret in SECRET_VALUES if secret in message]
    assert not leaked, message


# --- ctx.api paths --------------------------------------------------------------------------


# --- What the internal application says back -----------------------------------------------


# --- A plugin and other people's commands ---------------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[RecordingApi]:
    async with recording_api() as recording:
        yield recording


# --- Block Kit helpers plugins are told to use ---------------------------------------------


# --- API_TOKEN_TTL set (or lowered) after tokens were issued ---------------------------------


async def test_api_token_ttl_also_bounds_tokens_issued_before_it_was_set(tmp_path: Path) -> None:
    """MEDIUM: expiry is stamped into api_tokens.expires_at at binding, so setting
    API_TOKEN_TTL later (or lowering it) never bounds the tokens already out: a token bound
    a year ago under "no expiry" stays active at /oauth/introspect, at the stand-in's API and
    on the Slack side forever, although the setting reads "Seconds a personal API token stays
    valid after binding"."""
    introspection = {
        "INTROSPECTION_CLIENT_ID": "company-api",
        "INTROSPECTION_CLIENT_SECRET": "Zq8vN3kT1rW6yB0mC5xL7pD2sH9gF4jA",
    }
    async with run_app(tmp_path, **introspection) as app:  # no API_TOKEN_TTL yet
        token = await app.bind("ada", "U0ADA")
        year_ago = int(time.time()) - 365 * 86400
        app.query("UPDATE api_tokens SET created_at = ?", (year_ago,))
        app.query("UPDATE bindings SET created_at = ?", (year_ago,))
    async with run_app(tmp_path, API_TOKEN_TTL="3600", **introspection) as app:
        async with httpx.AsyncClient(base_url=app.base_url, trust_env=False) as machine:
            answer = await machine.post(
                "/oauth/introspect",
                data={"token": token},
                auth=("company-api", introspection["INTROSPECTION_CLIENT_SECRET"]),
            )
            me = await machine.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.json() == {"active": False}, answer.json()
        assert me.status_code == 401


async def test_switching_to_act_as_service_retires_the_personal_tokens(tmp_path: Path) -> None:
    """LOW: after ACT_AS=token -> service the Slack side never presents a personal token
    again, yet every token issued before stays active (at /oauth/introspect and at the
    stand-in's API) until its owner unlinks, and its ciphertext stays in the database."""
    secret = "Zq8vN3kT1rW6yB0mC5xL7pD2sH9gF4jA"
    introspection = {
        "INTROSPECTION_CLIENT_ID": "company-api",
        "INTROSPECTION_CLIENT_SECRET": secret,
    }
    async with run_app(tmp_path, **introspection) as app:
        token = await app.bind("ada", "U0ADA")
    async with run_app(
        tmp_path, ACT_AS="service", INTERNAL_API_TOKEN="SERVICEtoken4d8f2a9c7e1b", **introspection
    ) as app:
        assert (await app.command("U0ADA", "whoami"))[-1].text  # still bound, in service mode
        async with httpx.AsyncClient(base_url=app.base_url, trust_env=False) as machine:
            answer = await machine.post(
                "/oauth/introspect", data={"token": token}, auth=("company-api", secret)
            )
        assert answer.json() == {"active": False}, answer.json()
