"""The reference on-call API over real HTTP: how it accepts the product's credentials in both
acting modes, what it refuses, and its routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

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
from acme_oncall.service.__main__ import main
from oncall_harness import (
    CLIENT_ID,
    CLIENT_SECRET,
    NOW,
    SERVICE_TOKEN,
    AuthorizationServer,
)

PERSONAL_TOKEN = "personal-token-of-ada-0123456789"


@dataclass
class Oncall:
    url: str
    state: OncallService
    auth: AuthorizationServer

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=headers, trust_env=False)


@contextlib.asynccontextmanager
async def running(
    *,
    token_mode: bool = True,
    service_mode: bool = True,
    header: str = "Impersonate-User",
    introspection_url: str | None = None,
    client_secret: str = CLIENT_SECRET,
    deadline: float = 3.0,
) -> AsyncIterator[Oncall]:
    auth = AuthorizationServer()
    async with serve(auth.app()) as auth_url:
        introspection = IntrospectionConfig(
            introspection_url or f"{auth_url}/oauth/introspect", CLIENT_ID, client_secret, deadline
        )
        app = build_service(
            demo_roster(["ada", "grace", "alan"], clock=lambda: NOW),
            introspection=introspection if token_mode else None,
            service_credential=ServiceCredential(SERVICE_TOKEN, header) if service_mode else None,
        )
        async with serve(app) as url:
            yield Oncall(url, app.state.oncall, auth)


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


# ACT_AS=token: the personal token, checked by introspection at every request


async def test_a_personal_token_is_introspected_with_the_client_credentials() -> None:
    async with running() as oncall, oncall.client(**bearer(PERSONAL_TOKEN)) as http:
        oncall.auth.issue(PERSONAL_TOKEN, "ada", scope="api")
        answer = await http.get("/api/me")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"username": "ada", "via": "token"}
        [asked] = oncall.auth.requests
        assert asked["token"] == PERSONAL_TOKEN
        assert asked["authorization"].startswith("Basic ")
        assert [(a.username, a.via, a.path) for a in oncall.state.accesses] == [
            ("ada", "token", "/api/me")
        ]


async def test_an_inactive_token_gets_401_with_a_bearer_challenge() -> None:
    async with running() as oncall:
        # Only `active` decides, even when an inactive answer still names its user.
        oncall.auth.tokens["revoked-token"] = {"active": False, "username": "ada"}
        for token in ("unknown-token", "revoked-token"):
            async with oncall.client(**bearer(token)) as http:
                answer = await http.get("/api/oncall")
            assert answer.status_code == 401, token
            assert answer.headers["www-authenticate"] == (
                'Bearer realm="acme-oncall", error="invalid_token"'
            )
            assert answer.json() == {"error": "This token is not active."}
        assert oncall.state.accesses == []


async def test_nothing_is_cached_a_revoked_token_fails_at_its_next_request() -> None:
    async with running() as oncall, oncall.client(**bearer(PERSONAL_TOKEN)) as http:
        oncall.auth.issue(PERSONAL_TOKEN, "ada")
        assert (await http.get("/api/me")).status_code == 200
        oncall.auth.tokens[PERSONAL_TOKEN] = {"active": False}  # unlinked
        assert (await http.get("/api/me")).status_code == 401
        assert len(oncall.auth.requests) == 2


async def test_an_active_answer_past_its_exp_or_naming_nobody_is_refused() -> None:
    async with running() as oncall:
        oncall.auth.issue("expired-token", "ada", exp=int(time.time()) - 60)
        oncall.auth.tokens["nobody-token"] = {"active": True, "sub": "ada"}
        oncall.auth.tokens["bad-name-token"] = {"active": True, "username": "ada smith"}
        for token in ("expired-token", "nobody-token", "bad-name-token"):
            async with oncall.client(**bearer(token)) as http:
                answer = await http.get("/api/me")
                assert answer.status_code == 401, token


async def test_no_credential_gets_401_without_asking_the_introspection_endpoint() -> None:
    async with running() as oncall:
        for headers in ({}, {"Authorization": "Basic YWRhOnB3"}, {"Authorization": "Bearer"}):
            async with oncall.client(**headers) as http:
                answer = await http.get("/api/me")
                assert answer.status_code == 401
                assert answer.headers["www-authenticate"] == 'Bearer realm="acme-oncall"'
        assert oncall.auth.requests == []


async def test_a_personal_token_cannot_name_another_user() -> None:
    async with running() as oncall:
        oncall.auth.issue(PERSONAL_TOKEN, "ada")
        headers = bearer(PERSONAL_TOKEN, **{"Impersonate-User": "grace"})
        async with oncall.client(**headers) as http:
            answer = await http.get("/api/me")
        assert answer.status_code == 403
        assert "Only the service credential" in answer.json()["error"]
        assert oncall.state.accesses == []


async def test_wrong_client_credentials_make_it_unavailable_and_say_why_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    async with running(client_secret="not-the-introspection-client-secret-at-all") as oncall:
        oncall.auth.issue(PERSONAL_TOKEN, "ada")
        async with oncall.client(**bearer(PERSONAL_TOKEN)) as http:
            answer = await http.get("/api/me")
    assert answer.status_code == 503
    assert "client credentials" in caplog.text
    assert PERSONAL_TOKEN not in caplog.text and "not-the-introspection" not in caplog.text


async def test_a_slow_or_absent_introspection_endpoint_gives_503_at_the_deadline() -> None:
    async with running(deadline=0.3) as oncall:
        oncall.auth.issue(PERSONAL_TOKEN, "ada")
        oncall.auth.hold = asyncio.Event()
        async with oncall.client(**bearer(PERSONAL_TOKEN)) as http:
            answer = await http.get("/api/me", timeout=10.0)
        oncall.auth.hold.set()
        assert answer.status_code == 503
        assert answer.json() == {"error": "The credential cannot be checked now; try again."}
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/oauth/introspect"
    async with (
        running(introspection_url=nowhere) as oncall,
        oncall.client(**bearer(PERSONAL_TOKEN)) as http,
    ):
        assert (await http.get("/api/me")).status_code == 503


async def test_a_service_in_token_mode_only_refuses_the_service_token() -> None:
    async with running(service_mode=False) as oncall:
        async with oncall.client(**bearer(SERVICE_TOKEN, **{"Impersonate-User": "ada"})) as http:
            assert (await http.get("/api/me")).status_code == 403
        async with oncall.client(**bearer(SERVICE_TOKEN)) as http:
            assert (await http.get("/api/me")).status_code == 401


# ACT_AS=service: the service token, and the user named in the impersonation header


async def test_the_service_token_acts_as_the_user_the_header_names(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="acme_oncall")
    async with running() as oncall:
        async with oncall.client(**bearer(SERVICE_TOKEN, **{"Impersonate-User": "grace"})) as http:
            answer = await http.get("/api/me")
        assert answer.status_code == 200
        assert answer.json() == {"username": "grace", "via": "service"}
        assert oncall.auth.requests == []  # no introspection for the service credential
    assert "GET /api/me as grace (impersonated with the service credential)" in caplog.text
    assert SERVICE_TOKEN not in caplog.text


async def test_the_service_token_must_name_exactly_one_well_formed_user() -> None:
    async with running() as oncall:
        for named in ([], ["ada", "grace"], ["ada smith"], ["<script>"]):
            headers = [("Authorization", f"Bearer {SERVICE_TOKEN}")]
            headers += [("Impersonate-User", name) for name in named]
            async with httpx.AsyncClient(base_url=oncall.url, trust_env=False) as http:
                answer = await http.get("/api/me", headers=headers)
            assert answer.status_code == 400, named
            assert "Impersonate-User" in answer.json()["error"]
        assert oncall.state.accesses == []


async def test_a_wrong_service_token_is_not_accepted_in_service_mode() -> None:
    async with running(token_mode=False) as oncall:
        for token in (SERVICE_TOKEN[:-1] + "w", SERVICE_TOKEN + "x", "short"):
            async with oncall.client(**bearer(token, **{"Impersonate-User": "ada"})) as http:
                answer = await http.get("/api/me")
            assert answer.status_code == 403, token  # naming a user needs the service token
            async with oncall.client(**bearer(token)) as http:
                answer = await http.get("/api/me")
            assert answer.status_code == 401, token


async def test_the_impersonation_header_is_the_one_configured() -> None:
    async with running(header="X-Acting-User") as oncall:
        headers = bearer(SERVICE_TOKEN, **{"X-Acting-User": "alan"})
        async with oncall.client(**headers) as http:
            assert (await http.get("/api/me")).json() == {"username": "alan", "via": "service"}
        headers = bearer(SERVICE_TOKEN, **{"Impersonate-User": "alan"})
        async with oncall.client(**headers) as http:
            assert (await http.get("/api/me")).status_code == 400


def test_a_service_credential_is_long_and_its_header_a_field_name() -> None:
    with pytest.raises(ValueError, match="32"):
        ServiceCredential("too-short")
    with pytest.raises(ValueError, match="field name"):
        ServiceCredential(SERVICE_TOKEN, "Impersonate User")
    assert SERVICE_TOKEN not in repr(ServiceCredential(SERVICE_TOKEN))


# The routes, as the service credential acting as ada


async def test_who_is_on_call_and_ada_s_shifts() -> None:
    headers = bearer(SERVICE_TOKEN, **{"Impersonate-User": "ada"})
    async with running() as oncall, oncall.client(**headers) as http:
        now = (await http.get("/api/oncall")).json()["rotations"]
        one = (await http.get("/api/rotations/payments/oncall")).json()
        missing = await http.get("/api/rotations/nope/oncall")
        shifts = (await http.get("/api/me/shifts")).json()["shifts"]
    assert [(r["rotation"], r["username"], r["until"]) for r in now] == [
        ("platform", "ada", "2026-12-07T09:00:00Z"),
        ("payments", "alan", "2026-12-07T09:00:00Z"),
    ]
    assert one == now[1]
    assert missing.status_code == 404 and missing.json() == {"error": "no such rotation"}
    assert [(s["rotation"], s["starts"]) for s in shifts] == [
        ("platform", "2026-11-30T09:00:00Z"),
        ("payments", "2026-12-14T09:00:00Z"),
        ("platform", "2026-12-21T09:00:00Z"),
        ("payments", "2027-01-04T09:00:00Z"),
        ("platform", "2027-01-11T09:00:00Z"),
    ]


async def test_a_page_goes_to_whoever_is_on_call_from_the_caller() -> None:
    async with running() as oncall:
        async with oncall.client(**bearer(SERVICE_TOKEN, **{"Impersonate-User": "grace"})) as http:
            sent = await http.post("/api/pages", json={"message": " disk full "})
            to_payments = await http.post(
                "/api/pages", json={"message": "refunds stuck", "rotation": "payments"}
            )
        assert sent.status_code == 201
        assert {k: sent.json()[k] for k in ("rotation", "paged", "by", "message")} == {
            "rotation": "platform",
            "paged": "ada",
            "by": "grace",
            "message": "disk full",
        }
        assert to_payments.json()["paged"] == "alan"
        assert [(p.paged, p.by) for p in oncall.state.roster.pages] == [
            ("ada", "grace"),
            ("alan", "grace"),
        ]


async def test_bad_pages_get_4xx_and_send_nothing() -> None:
    async with running() as oncall:
        async with oncall.client(**bearer(SERVICE_TOKEN, **{"Impersonate-User": "ada"})) as http:
            for body, status in (
                (b"not json", 400),
                (b"[]", 400),
                (b'{"message": 7}', 400),
                (b'{"message": "   "}', 400),
                (b'{"message": "' + b"x" * 301 + b'"}', 400),
                (b'{"message": "hi", "rotation": 3}', 400),
                (b'{"message": "hi", "rotation": "nope"}', 404),
                (b'{"message": "' + b"x" * 5000 + b'"}', 413),
            ):
                answer = await http.post(
                    "/api/pages", content=body, headers={"Content-Type": "application/json"}
                )
                assert answer.status_code == status, body[:40]
                assert isinstance(answer.json()["error"], str)
        assert oncall.state.roster.pages == []


def test_the_program_refuses_a_half_configuration_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv, environ, expected in (
        ([], {}, "give --introspection-url (token mode)"),
        (["--introspection-url", "http://x/oauth/introspect"], {}, "needs --client-id"),
        ([], {"ONCALL_SERVICE_TOKEN": "short"}, "at least 32 characters"),
        (["--people", "a b"], {"ONCALL_SERVICE_TOKEN": SERVICE_TOKEN}, "--people"),
    ):
        with pytest.raises(SystemExit) as stopped:
            main(argv, environ)
        assert stopped.value.code == 2
        assert expected in capsys.readouterr().err


async def test_the_program_serves_and_stops_on_sigterm() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "acme_oncall.service", "--port", str(port), "--people", "ada,grace"),
        env={**environ, "ONCALL_SERVICE_TOKEN": SERVICE_TOKEN},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        headers = bearer(SERVICE_TOKEN, **{"Impersonate-User": "grace"})
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, trust_env=False
        ) as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        answer = await http.get("/api/oncall")
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.1)
        assert answer.status_code == 200
        assert [r["username"] for r in answer.json()["rotations"]] == ["ada", "grace"]
        process.terminate()
        async with asyncio.timeout(30):
            _, err = await process.communicate()
        # uvicorn shuts down cleanly, then re-raises the signal it caught.
        assert process.returncode in (0, -signal.SIGTERM)
        assert b"Accepting ACT_AS=service" in err and b"Finished server process" in err
        assert SERVICE_TOKEN.encode() not in err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
