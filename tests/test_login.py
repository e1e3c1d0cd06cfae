"""Logging in and out of the site."""

from __future__ import annotations

from conftest import PASSWORD, RunningApp, csrf_of, login


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    running_app: RunningApp,
) -> None:
    await running_app.add_user("ada")
    wrong_password = await login(running_app.http, "ada", "not the password")
    unknown_user = await login(running_app.browser(), "nobody", "not the password")
    for response in (wrong_password, unknown_user):
        assert response.status_code == 400
        assert "do not match an account" in response.text
        assert "session=" not in response.headers.get("set-cookie", "")
    assert 'value="ada"' in wrong_password.text  # the user name is kept in the form


async def test_login_needs_its_csrf_token(running_app: RunningApp) -> None:
    await running_app.add_user("ada")
    response = await running_app.http.post("/login", data={"username": "ada", "password": PASSWORD})
    assert response.status_code == 403


async def test_login_returns_only_to_a_path_on_this_site(running_app: RunningApp) -> None:
    await running_app.add_user("ada")
    for target, expected in (
        ("/bind", "/bind"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ):
        browser = running_app.browser()
        response = await login(browser, "ada", next_path=target)
        assert response.status_code == 303
        assert response.headers["location"] == expected, target


async def test_logout_ends_the_session_on_the_server(running_app: RunningApp) -> None:
    await running_app.add_user("ada")
    await login(running_app.http, "ada")
    home = await running_app.http.get("/")
    assert "logged in as <strong>ada</strong>" in home.text
    cookie = running_app.http.cookies.get("session")
    assert cookie
    out = await running_app.http.post("/logout", data={"csrf_token": csrf_of(home)})
    assert out.status_code == 200 and "logged out" in out.text
    replay = running_app.browser()
    replay.cookies.set("session", cookie)
    assert "You are not logged in" in (await replay.get("/")).text


async def test_a_planted_session_is_ended_at_login(running_app: RunningApp) -> None:
    """Session fixation: a session cookie planted in the victim's browser is not promoted by
    the victim's login; the login issues a new one and ends the planted one."""
    await running_app.add_user("ada")
    await running_app.add_user("mallory")
    attacker = running_app.browser()
    await login(attacker, "mallory")
    planted = attacker.cookies.get("session")
    assert planted
    victim = running_app.browser()
    form = await victim.get("/login")
    victim.cookies.set("session", planted, domain="127.0.0.1")
    response = await victim.post(
        "/login", data={"username": "ada", "password": PASSWORD, "csrf_token": csrf_of(form)}
    )
    issued = response.cookies.get("session")
    assert issued and issued != planted
    assert "You are not logged in" in (await attacker.get("/")).text


async def test_pages_carry_the_security_headers(running_app: RunningApp) -> None:
    for path in ("/", "/login", "/bind", "/bind/unknown", "/no-such-page"):
        response = await running_app.http.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "script-src" not in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
