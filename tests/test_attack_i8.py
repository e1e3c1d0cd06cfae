"""Attacks on issue 8's surface (helper "attacker"): each test fails while its finding stands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from conftest import free_socket, run_app
from recording_api import RecordingApi, recording_api
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from account_binding.settings import SettingsError, load_settings
from bolt_app.blocks import context, fields
from bolt_app.commands import ApiRefused
from bolt_app.internal_api import InternalApiConnection, check_path

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


@pytest.mark.parametrize("host", ["1.2.3.4:80", "[::1]", "[", "a:b:c"])
def test_a_bad_host_is_refused_naming_host(tmp_path: Path, host: str) -> None:
    """LOW: the same start error says "A setting ..." instead of naming HOST."""
    with pytest.raises(SettingsError) as raised:
        load_settings({"DATABASE": str(tmp_path / "db"), "HOST": host}, env_file=None)
    assert str(raised.value).startswith("HOST"), str(raised.value)


@pytest.mark.parametrize("host", ["a/b", "exa mple", "a?b"])
def test_a_host_that_is_not_a_host_name_is_refused(tmp_path: Path, host: str) -> None:
    """LOW: HOST='a/b' is accepted and makes INTERNAL_API_URL 'http://a/b:8000'."""
    with pytest.raises(SettingsError, match="HOST"):
        load_settings({"DATABASE": str(tmp_path / "db"), "HOST": host}, env_file=None)


def test_an_overlong_database_path_is_one_line(tmp_path: Path) -> None:
    """LOW: Path.is_dir() raises OSError(ENAMETOOLONG) inside the validator; it is neither a
    ValidationError nor a SettingsError, so the CLI prints a traceback."""
    with pytest.raises(SettingsError, match="DATABASE"):
        load_settings({"DATABASE": str(tmp_path / ("x" * 300))}, env_file=None)


@pytest.mark.parametrize(
    "header", ["Proxy-Authorization", "Keep-Alive", "TE", "Upgrade", "Expect", "Forwarded"]
)
def test_impersonate_header_refuses_headers_proxies_drop_or_rewrite(
    tmp_path: Path, header: str
) -> None:
    """LOW: hop-by-hop or proxy-owned fields are accepted (Connection is refused, but not its
    siblings); a proxy drops or rewrites them, so the impersonated name never arrives intact."""
    with pytest.raises(SettingsError, match="IMPERSONATE_HEADER"):
        load_settings({"DATABASE": str(tmp_path / "db"), "IMPERSONATE_HEADER": header}, None)


# --- ctx.api paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/items/..%2F..%2Fadmin",  # quote("../../admin", safe="") as the docs advise
        "/items/%2e%2e%2fadmin",
        "/items/..%5Cadmin",  # a backslash, a separator for IIS and some proxies
        "/items/.%2e%2F",
    ],
)
def test_an_encoded_dot_segment_inside_a_segment_is_refused(path: str) -> None:
    """MEDIUM: check_path unquotes each '/'-separated segment and compares it to '.'/'..',
    but '..%2F..%2Fadmin' unquotes to '../../admin', which is neither. uvicorn, nginx and
    most gateways decode %2F before they route (nginx also resolves the dots), so typed text
    quoted as InternalApiClient's docstring advises reaches paths outside INTERNAL_API_URL's
    prefix on that host, with the credential."""
    with pytest.raises(ValueError):
        check_path(path)


async def test_a_quoted_typed_word_cannot_walk_out_of_the_prefix() -> None:
    """The same through real HTTP: the server sees a path outside /acme-api/."""
    seen: list[str] = []

    async def anything(request: Request) -> Response:
        seen.append(request.url.path)
        return JSONResponse({})

    app = Starlette(routes=[Route("/{rest:path}", anything)])
    async with serving(app) as url:
        connection = InternalApiConnection(url + "/acme-api", "Acme")
        try:
            with contextlib.suppress(ValueError):
                await connection.as_person({}).get("/items/..%2F..%2Fadmin")
        finally:
            await connection.close()
    assert all("/../" not in path for path in seen), seen


# --- What the internal application says back -----------------------------------------------


async def test_a_refusal_that_echoes_the_credential_does_not_show_it_to_the_person() -> None:
    """LOW-MEDIUM (a misbehaving company API): a 4xx reason is shown to the Slack person
    verbatim (ApiRefused's sentence). An API that echoes the Authorization header in its
    error ('token X may not impersonate') shows the service credential, which acts as
    anyone, to whoever typed the command."""
    service_token = SECRETS["INTERNAL_API_TOKEN"]

    async def echo_auth(request: Request) -> Response:
        return JSONResponse(
            {"error": f"credential {request.headers['authorization']} may not do this"}, 403
        )

    app = Starlette(routes=[Route("/x", echo_auth)])
    async with serving(app) as url:
        connection = InternalApiConnection(url, "Acme")
        try:
            api = connection.as_person(
                {"Authorization": f"Bearer {service_token}", "Impersonate-User": "ada"}
            )
            with pytest.raises(ApiRefused) as raised:
                await api.get("/x")
        finally:
            await connection.close()
    assert service_token not in str(raised.value)
    assert service_token not in raised.value.message


# --- A plugin and other people's commands ---------------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[RecordingApi]:
    async with recording_api() as recording:
        yield recording


async def test_one_plugins_blocking_call_does_not_fail_other_peoples_commands(
    tmp_path: Path, api: RecordingApi
) -> None:
    """MEDIUM: every handler shares one loop on one thread; a handler that blocks it (a
    synchronous HTTP call, as plugin authors often write) makes every other person's plugin
    command fail with "did not finish within COMMAND_TIMEOUT" although it never started."""
    async with run_app(
        tmp_path,
        COMMAND_PLUGINS="attack_plugins:careless",
        INTERNAL_API_URL=api.url,
        COMMAND_TIMEOUT="2",
    ) as app:
        await app.bind("ada", "U0ADA")
        await app.bind("grace", "U0GRACE")
        blocked = asyncio.create_task(app.command("U0ADA", "slowsync"))
        await asyncio.sleep(0.5)  # ada's handler is in time.sleep(4)
        answer = await app.command("U0GRACE", "hello")
        assert answer[-1].text == "Acme said hello to grace", answer[-1].text
        await blocked


# --- Block Kit helpers plugins are told to use ---------------------------------------------


def test_the_fields_helper_keeps_within_slacks_limit() -> None:
    """LOW: Slack refuses a section field over 2000 characters (invalid_blocks); fields()
    cuts nothing, so a plugin showing a long description through the project's own helper
    gets its reply refused by the response_url, and the person sees nothing."""
    block = fields([("Description", "x" * 2500)])
    assert all(len(field["text"]) <= 2000 for field in block["fields"])


def test_the_context_helper_keeps_within_slacks_limit() -> None:
    """LOW: a mrkdwn text object holds at most 3000 characters; context() cuts nothing."""
    block = context("y" * 3500)
    assert all(len(element["text"]) <= 3000 for element in block["elements"])
