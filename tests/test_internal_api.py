"""The internal application's JSON API, over real HTTP."""

from __future__ import annotations

import sqlite3

from conftest import RunningApp


async def bound_token(app: RunningApp, username: str, slack_user: str) -> str:
    return await app.bind(username, slack_user)


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


async def test_the_slack_side_explains_a_rejected_token(running_app: RunningApp) -> None:
    token = await bound_token(running_app, "ada", "U0ADA")
    with sqlite3.connect(running_app.settings.database) as db:
        db.execute("UPDATE api_tokens SET revoked_at = 1")
    assert (
        await running_app.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    reply = await running_app.command("U0ADA", "todo")
    assert "no longer accepts" in reply[-1].text and "unlink" in reply[-1].text


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
    from conftest import login

    app = running_app
    await app.add_user("ada")
    await login(app.http, "ada")
    assert app.http.cookies.get("session")
    for method, path in (("GET", "/api/me"), ("GET", "/api/todos"), ("POST", "/api/todos")):
        response = await app.http.request(method, path, json={"title": "x"})
        assert response.status_code == 401, path
    assert app.query("SELECT count(*) FROM todos") == [(0,)]
