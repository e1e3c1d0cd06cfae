"""The stand-in internal application's JSON API over real HTTP, in each acting mode: a
personal API token, and the service credential with the impersonation header."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RunningApp, login, run_app

#: INTERNAL_API_TOKEN in these tests (32 characters or more).
SERVICE = "service-credential-for-the-tests-0123456789"


async def bound_token(app: RunningApp, username: str, slack_user: str) -> str:
    return await app.bind(username, slack_user)


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


async def test_unknown_missing_or_malformed_tokens_get_401(running_app: RunningApp) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer abt_nope"},
        {"Authorization": "Basic x"},
        {"Authorization": "Bearer " + "a" * 5000},
    ):
        response = await running_app.http.get("/api/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "error" in response.json()


async def test_todos_belong_to_the_tokens_user(running_app: RunningApp) -> None:
    ada = await bound_token(running_app, "ada", "U0ADA")
    grace = await bound_token(running_app, "grace", "U0GRACE")
    api = running_app.http

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    created = await api.post("/api/todos", json={"title": "  Ship   it "}, headers=auth(ada))
    assert created.status_code == 201 and created.json()["title"] == "Ship it"
    todo_id = created.json()["id"]
    assert (await api.get("/api/todos", headers=auth(grace))).json() == {"todos": []}
    assert (
        await api.post(f"/api/todos/{todo_id}/complete", headers=auth(grace))
    ).status_code == 404
    done = await api.post(f"/api/todos/{todo_id}/complete", headers=auth(ada))
    assert done.status_code == 200 and done.json()["done"] is True


async def test_bad_bodies_get_400_not_500(running_app: RunningApp) -> None:
    token = await bound_token(running_app, "ada", "U0ADA")
    headers = {"Authorization": f"Bearer {token}"}
    api = running_app.http
    for body in (
        b"not json",
        b"[]",
        b'{"title": 5}',
        b'{"title": ""}',
        b'{"title": "' + b"x" * 300 + b'"}',
        b"[" * 5000,  # nesting deeper than the parser recurses
        b'{"title": "\\ud800"}',  # a lone surrogate, which cannot be stored as UTF-8
        b'{"title": "a\\u0000b"}',  # a NUL
    ):
        response = await api.post("/api/todos", content=body, headers=headers)
        assert response.status_code == 400, body
        assert response.json()["error"]
    huge = await api.post("/api/todos", content=b"x" * 20_000, headers=headers)
    assert huge.status_code == 413
    assert (
        await api.post("/api/todos/99999999999999/complete", headers=headers)
    ).status_code == 404
    assert (await api.get("/api/nothing", headers=headers)).status_code == 404
    assert (await api.delete("/api/todos", headers=headers)).status_code == 405


async def test_a_number_too_large_for_python_is_a_4xx_not_500(running_app: RunningApp) -> None:
    """The issue's input: POST /api/todos/ + 5,000 nines + /complete, no token, was a 500
    (Starlette's int convertor hit Python's 4,300-digit limit). Every number the web side
    parses from a path or a header is bounded before int() sees it."""
    api = running_app.http
    nines = "9" * 5000
    assert (await api.post(f"/api/todos/{nines}/complete")).status_code == 401
    token = await bound_token(running_app, "ada", "U0ADA")
    headers = {"Authorization": f"Bearer {token}"}
    for todo_id in (nines, "0", "-1", "2147483648", "1e3", "abc", "%D9%A3", "+1", " 1"):
        response = await api.post(f"/api/todos/{todo_id}/complete", headers=headers)
        assert response.status_code == 404, todo_id
        assert response.json()["error"].startswith("You have no")
    created = await api.post("/api/todos", json={"title": "Ship it"}, headers=headers)
    done = await api.post(f"/api/todos/{created.json()['id']}/complete", headers=headers)
    assert done.status_code == 200
    # The static files read a Range header: huge numbers there are not a 500 either.
    for value in (f"bytes={nines}-", f"bytes=0-{nines}", f"bytes=-{nines}"):
        page = await api.get("/static/style.css", headers={"Range": value})
        assert page.status_code < 500, value


async def test_the_api_refuses_a_session_cookie(running_app: RunningApp) -> None:
    """The API takes bearer tokens only: a logged-in browser's session cookie is not enough
    (so another site cannot make a logged-in browser use the API)."""
    app = running_app
    await app.add_user("ada")
    await login(app.http, "ada")
    assert app.http.cookies.get("session")
    for method, path in (("GET", "/api/me"), ("GET", "/api/todos"), ("POST", "/api/todos")):
        response = await app.http.request(method, path, json={"title": "x"})
        assert response.status_code == 401, path
    assert app.query("SELECT count(*) FROM todos") == [(0,)]


# The service credential (ACT_AS=service)


async def test_the_service_credential_acts_for_the_user_the_header_names(tmp_path: Path) -> None:
    async with run_app(tmp_path, INTERNAL_API_TOKEN=SERVICE) as app:
        await app.add_user("ada")
        await app.add_user("grace")
        api = app.http
        me = await api.get("/api/me", headers=bearer(SERVICE, **{"Impersonate-User": "ada"}))
        assert me.status_code == 200, me.text
        assert me.json() == {
            "id": app.users["ada"].id,
            "username": "ada",
            "email": "ada@example.com",
        }
        as_ada = bearer(SERVICE, **{"Impersonate-User": "ada"})
        created = await api.post("/api/todos", json={"title": "Ship it"}, headers=as_ada)
        assert created.status_code == 201, created.text
        as_grace = bearer(SERVICE, **{"impersonate-user": "grace"})  # field names ignore case
        assert (await api.get("/api/todos", headers=as_grace)).json() == {"todos": []}
        todo_id = created.json()["id"]
        assert (
            await api.post(f"/api/todos/{todo_id}/complete", headers=as_grace)
        ).status_code == 404
        assert app.query("SELECT user_id, done FROM todos") == [(app.users["ada"].id, 0)]
        # A person's own token goes on working beside it.
        token = await bound_token(app, "ada", "U0ADA")
        listed = await api.get("/api/todos", headers=bearer(token))
        assert [t["title"] for t in listed.json()["todos"]] == ["Ship it"]


async def test_the_service_credential_without_the_header_is_400(tmp_path: Path) -> None:
    async with run_app(tmp_path, INTERNAL_API_TOKEN=SERVICE) as app:
        await app.add_user("ada")
        for method, path in (("GET", "/api/me"), ("GET", "/api/todos"), ("POST", "/api/todos")):
            response = await app.http.request(
                method, path, json={"title": "x"}, headers=bearer(SERVICE)
            )
            assert response.status_code == 400, path
            assert "Impersonate-User" in response.json()["error"]
        twice = await app.http.get(
            "/api/me",
            headers=[
                ("Authorization", f"Bearer {SERVICE}"),
                ("Impersonate-User", "ada"),
                ("Impersonate-User", "ada"),
            ],
        )
        assert twice.status_code == 400 and "one" in twice.json()["error"]
        assert app.query("SELECT count(*) FROM todos") == [(0,)]


async def test_the_service_credential_naming_an_unknown_user_is_403(tmp_path: Path) -> None:
    async with run_app(tmp_path, INTERNAL_API_TOKEN=SERVICE) as app:
        await app.add_user("ada")
        names = [b"nobody", b"", b"ADA", b"ada " * 40 + b"x", "adé".encode(), b"ada\xff"]
        for name in names:
            response = await app.http.post(
                "/api/todos",
                json={"title": "x"},
                headers=[
                    (b"Authorization", f"Bearer {SERVICE}".encode()),
                    (b"Impersonate-User", name),
                ],
            )
            assert response.status_code == 403, name
            assert response.json()["error"].startswith("There is no user")
            assert "www-authenticate" not in response.headers
        assert app.query("SELECT count(*) FROM todos") == [(0,)]


async def test_a_personal_token_with_the_impersonation_header_is_403(tmp_path: Path) -> None:
    """A person's token acts for that person only, whether or not a service credential is
    configured, and never as the user the header names (even themselves)."""
    for extra in ({}, {"INTERNAL_API_TOKEN": SERVICE}):
        async with run_app(tmp_path / str(len(extra)), **extra) as app:
            token = await bound_token(app, "ada", "U0ADA")
            await app.add_user("grace")
            for name in ("grace", "ada"):
                response = await app.http.post(
                    "/api/todos",
                    json={"title": "x"},
                    headers=bearer(token, **{"Impersonate-User": name}),
                )
                assert response.status_code == 403, (extra, name)
                assert "own user" in response.json()["error"]
            assert app.query("SELECT count(*) FROM todos") == [(0,)]


async def test_a_wrong_service_credential_is_401(tmp_path: Path) -> None:
    async with run_app(tmp_path, INTERNAL_API_TOKEN=SERVICE) as app:
        await app.add_user("ada")
        for credential in (SERVICE[:-1], SERVICE + "x", SERVICE.upper(), "abt_" + SERVICE):
            response = await app.http.get(
                "/api/me", headers=bearer(credential, **{"Impersonate-User": "ada"})
            )
            assert response.status_code == 401, credential
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "service credential" in response.json()["error"]
        basic = await app.http.get(
            "/api/me", headers={"Authorization": f"Basic {SERVICE}", "Impersonate-User": "ada"}
        )
        assert basic.status_code == 401


async def test_without_internal_api_token_no_credential_acts_as_a_service(tmp_path: Path) -> None:
    """The stand-in takes a service credential only when INTERNAL_API_TOKEN configures one."""
    async with run_app(tmp_path) as app:
        await app.add_user("ada")
        response = await app.http.get(
            "/api/me", headers=bearer(SERVICE, **{"Impersonate-User": "ada"})
        )
        assert response.status_code == 401
        assert "service" not in response.json()["error"]


async def test_the_impersonation_header_is_the_one_configured(tmp_path: Path) -> None:
    async with run_app(
        tmp_path, INTERNAL_API_TOKEN=SERVICE, IMPERSONATE_HEADER="X-Acting-For"
    ) as app:
        await app.add_user("ada")
        api = app.http
        me = await api.get("/api/me", headers=bearer(SERVICE, **{"X-Acting-For": "ada"}))
        assert me.status_code == 200 and me.json()["username"] == "ada"
        other = await api.get("/api/me", headers=bearer(SERVICE, **{"Impersonate-User": "ada"}))
        assert other.status_code == 400 and "X-Acting-For" in other.json()["error"]


# Served only when INTERNAL_API_URL is unset


async def test_the_stand_in_is_not_served_when_internal_api_url_points_elsewhere(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path, INTERNAL_API_URL="http://127.0.0.1:9") as app:
        assert not app.settings.serves_stand_in
        token = await bound_token(app, "ada", "U0ADA")
        for method, path in (
            ("GET", "/api/me"),
            ("GET", "/api/todos"),
            ("POST", "/api/todos"),
            ("POST", "/api/todos/1/complete"),
        ):
            response = await app.http.request(method, path, headers=bearer(token))
            assert response.status_code == 404, path
        assert app.query("SELECT name FROM sqlite_master WHERE name LIKE '%todo%'") == []
        assert app.query(
            "SELECT count(*) FROM _sqlite_migrations WHERE migration_set = 'stand_in'"
        ) == [(0,)]


async def test_the_stand_in_is_served_and_makes_its_table_by_default(
    running_app: RunningApp,
) -> None:
    assert running_app.settings.serves_stand_in
    assert running_app.query("SELECT name FROM sqlite_master WHERE name = 'todos'") == [("todos",)]
    assert (await running_app.http.get("/api/me")).status_code == 401


# The Slack side acting in the stand-in, in each mode


@pytest.mark.parametrize("act_as", ["token", "service"])
async def test_the_to_do_commands_act_in_the_stand_in_in_each_mode(
    tmp_path: Path, act_as: str
) -> None:
    """The default setup (INTERNAL_API_URL unset) works in both acting modes: the stand-in
    accepts whatever credential the Slack side presents for the mode, and no other."""
    async with run_app(tmp_path, ACT_AS=act_as, INTERNAL_API_TOKEN=SERVICE) as app:
        token = await app.bind("ada", "U0ADA")
        assert bool(token) == (act_as == "token")
        added = await app.command("U0ADA", "todo add Water the plants")
        assert added[-1].text == "Added #1: Water the plants"
        listed = await app.command("U0ADA", "todo")
        assert listed[-1].text == "Your to-do items in Acme: 1 open, 0 done"
        assert app.query("SELECT user_id, title FROM todos") == [
            (app.users["ada"].id, "Water the plants")
        ]
