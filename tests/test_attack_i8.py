"""Attacks on issue 8's surface (helper "attacker"): each test fails while its finding stands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from conftest import free_socket
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
