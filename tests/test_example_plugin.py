"""The example plugin package (examples/oncall-plugin, installed by the dev install) end to
end, per acting mode: the real app over Socket Mode to the fake Slack, COMMAND_PLUGINS=oncall,
and Acme's on-call service on loopback as INTERNAL_API_URL, checking the credential the
product sends it (token mode: the person's token, which the service introspects at the real
app's endpoint; service mode: INTERNAL_API_TOKEN and the impersonation header)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from acme_oncall.service import (
    IntrospectionConfig,
    OncallService,
    ServiceCredential,
    build_service,
    demo_roster,
    serve,
)
from conftest import RunningApp, find_link, free_socket, run_app
from starlette.types import ASGIApp, Receive, Scope, Send
from unbinding import disconnect

CLIENT_ID = "acme-oncall"
CLIENT_SECRET = "introspection-client-secret-for-the-oncall-api"
SERVICE_TOKEN = "internal-api-service-token-0123456789abcdef"


@dataclass
class Oncall:
    """The on-call service as the test sees it: its state and every request's headers."""

    url: str
    state: OncallService
    seen: list[dict[str, str]] = field(default_factory=list)


def recording(app: ASGIApp, seen: list[dict[str, str]]) -> ASGIApp:
    """`app`, noting the headers of every HTTP request it gets (names in lower case)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        await app(scope, receive, send)

    return wrapped


@contextlib.asynccontextmanager
async def app_and_oncall(
    tmp_path: Path, *, token_mode: bool, header: str = "Impersonate-User", **settings: str
) -> AsyncIterator[tuple[RunningApp, Oncall]]:
    """The app with the oncall plugin, pointed at the on-call service; the service's port is
    taken first (INTERNAL_API_URL), and it starts once the app's introspection URL is known."""
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with run_app(
            tmp_path, COMMAND_PLUGINS="oncall", INTERNAL_API_URL=url, **settings
        ) as app:
            service = build_service(
                demo_roster(["ada", "grace"]),
                introspection=IntrospectionConfig(
                    f"{app.base_url}/oauth/introspect", CLIENT_ID, CLIENT_SECRET
                )
                if token_mode
                else None,
                service_credential=None if token_mode else ServiceCredential(SERVICE_TOKEN, header),
            )
            oncall = Oncall(url, service.state.oncall)
            async with serve(recording(service, oncall.seen), sock=sock) as served:
                assert served == url
                yield app, oncall
    finally:
        sock.close()


async def test_the_service_checks_a_personal_token_at_the_apps_introspection_endpoint(
    tmp_path: Path,
) -> None:
    """The resource-server half alone (no plugin): the service asks the real app."""
    async with app_and_oncall(
        tmp_path,
        token_mode=True,
        ACT_AS="token",
        INTROSPECTION_CLIENT_ID=CLIENT_ID,
        INTROSPECTION_CLIENT_SECRET=CLIENT_SECRET,
    ) as (app, oncall):
        token = await app.bind("ada", "U0ADA")
        async with httpx.AsyncClient(
            base_url=oncall.url, headers={"Authorization": f"Bearer {token}"}, trust_env=False
        ) as http:
            assert (await http.get("/api/me")).json() == {"username": "ada", "via": "token"}
            await disconnect(app, "U0ADA")
            refused = await http.get("/api/me")
            assert refused.status_code == 401  # inactive at once: nothing cached on either side
            assert 'error="invalid_token"' in refused.headers["www-authenticate"]
            forged = await http.get("/api/me", headers={"Authorization": "Bearer abt_forged"})
            assert forged.status_code == 401
        assert [(a.username, a.via) for a in oncall.state.accesses] == [("ada", "token")]


async def test_token_mode_the_service_introspects_the_persons_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with app_and_oncall(
        tmp_path,
        token_mode=True,
        ACT_AS="token",
        INTROSPECTION_CLIENT_ID=CLIENT_ID,
        INTROSPECTION_CLIENT_SECRET=CLIENT_SECRET,
    ) as (app, oncall):
        # The start log lists the installed plugins, and those COMMAND_PLUGINS loaded.
        assert "Installed command plugins (entry points of account_binding.commands)" in caplog.text
        assert "Loaded command plugins: oncall" in caplog.text
        help_text = (await app.command("U0ADA", "help"))[0].text
        assert "oncall page" in help_text and "todo" not in help_text

        token = await app.bind("ada", "U0ADA")

        now = await app.command("U0ADA", "oncall now")
        assert now[-1].source == "response_url"
        assert now[-1].text == "On call now: Platform: ada, Payments: grace"
        paged = await app.command("U0ADA", "oncall page hello")
        assert paged[-1].text == "Paged ada (on call for Platform)."
        assert [(p.by, p.message) for p in oncall.state.roster.pages] == [("ada", "hello")]

        assert [h.get("authorization") for h in oncall.seen] == [f"Bearer {token}"] * 2
        assert not any("impersonate-user" in h for h in oncall.seen)
        assert [(a.username, a.via) for a in oncall.state.accesses] == [("ada", "token")] * 2

        # Unlinking makes the token inactive at once: the service refuses it at its next use.
        await disconnect(app, "U0ADA")
        async with httpx.AsyncClient(base_url=oncall.url, trust_env=False) as http:
            again = await http.get("/api/oncall", headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 401
        assert 'error="invalid_token"' in again.headers["www-authenticate"]
        assert len(oncall.state.accesses) == 2
        assert find_link(await app.command("U0ADA", "oncall now"))  # link again


@pytest.mark.parametrize("header", ["Impersonate-User", "X-Acting-User"])
async def test_service_mode_the_service_token_names_the_bound_user(
    tmp_path: Path, header: str
) -> None:
    async with app_and_oncall(
        tmp_path,
        token_mode=False,
        header=header,
        ACT_AS="service",
        INTERNAL_API_TOKEN=SERVICE_TOKEN,
        IMPERSONATE_HEADER=header,
    ) as (app, oncall):
        await app.bind("grace", "U0GRACE")
        assert app.query("SELECT api_token_ciphertext FROM bindings") == [(None,)]

        now = await app.command("U0GRACE", "oncall now")
        assert now[-1].text == "On call now: Platform: ada, Payments: grace"
        paged = await app.command("U0GRACE", "oncall page hello")
        assert paged[-1].text == "Paged ada (on call for Platform)."
        assert [(p.by, p.message) for p in oncall.state.roster.pages] == [("grace", "hello")]

        assert [(h.get("authorization"), h.get(header.lower())) for h in oncall.seen] == [
            (f"Bearer {SERVICE_TOKEN}", "grace")
        ] * 2
        assert [(a.username, a.via) for a in oncall.state.accesses] == [("grace", "service")] * 2

        # Unlinked, the person is asked to link again and the service is not called.
        await disconnect(app, "U0GRACE")
        assert find_link(await app.command("U0GRACE", "oncall now"))
        assert len(oncall.seen) == 2


async def test_an_unknown_rotation_and_a_bad_argument_in_slack(tmp_path: Path) -> None:
    async with app_and_oncall(
        tmp_path, token_mode=False, ACT_AS="service", INTERNAL_API_TOKEN=SERVICE_TOKEN
    ) as (app, _):
        await app.bind("ada", "U0ADA")
        unknown = await app.command("U0ADA", "oncall now nope")
        assert "Acme has no rotation called `nope`" in unknown[-1].text
        usage = await app.command("U0ADA", "oncall page")
        assert usage[-1].text == "Usage: /acme oncall page &lt;message&gt;"


def test_the_example_package_is_installed_not_skipped() -> None:
    # CI installs examples/oncall-plugin with the dev install; a missing package is a failure.
    [entry] = [
        e for e in metadata.entry_points(group="account_binding.commands") if e.name == "oncall"
    ]
    assert entry.value == "acme_oncall.commands:plugin"
    assert metadata.distribution("acme-oncall").version
