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
        # same-origin: a browser then sends this site's Origin on its own posts (no-referrer
        # makes it "null", which the cross-site check refuses), and nothing leaves the site.
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert (
            "img-src 'self' https://*.slack-edge.com;"
            in (response.headers["content-security-policy"])
        )


async def test_login_refuses_a_wrong_csrf_token(running_app: RunningApp) -> None:
    """The double-submit check compares the form's token with the cookie's: a wrong token is
    refused, not only a missing one, and so is another browser's valid pair half."""
    await running_app.add_user("ada")
    form = await running_app.http.get("/login")
    other = await running_app.browser().get("/login")
    for token in ("wrong", csrf_of(form)[:-1] + "x", csrf_of(other)):
        response = await running_app.http.post(
            "/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 403, token
        assert "session" not in response.headers.get("set-cookie", "")
    ok = await running_app.http.post(
        "/login", data={"username": "ada", "password": PASSWORD, "csrf_token": csrf_of(form)}
    )
    assert ok.status_code == 303


async def test_logout_refuses_a_wrong_token(running_app: RunningApp) -> None:
    await running_app.add_user("ada")
    await login(running_app.http, "ada")
    home = await running_app.http.get("/")
    for token in ("wrong", csrf_of(home)[:-1] + "x"):
        refused = await running_app.http.post("/logout", data={"csrf_token": token})
        assert refused.status_code == 403
        assert "logged in as" in (await running_app.http.get("/")).text
    assert (
        await running_app.http.post("/logout", data={"csrf_token": csrf_of(home)})
    ).status_code == 200
    assert "You are not logged in" in (await running_app.http.get("/")).text


async def test_the_login_page_returns_only_to_a_path_on_this_site_when_logged_in(
    running_app: RunningApp,
) -> None:
    """GET /login when already logged in redirects at once: to a path of this site only."""
    await running_app.add_user("ada")
    await login(running_app.http, "ada")
    for target, expected in (
        ("/bind", "/bind"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ):
        response = await running_app.http.get("/login", params={"next": target})
        assert response.status_code == 303
        assert response.headers["location"] == expected, target


async def test_the_csrf_token_is_not_the_session_id(running_app: RunningApp) -> None:
    """The token in the page is not the session cookie (which is HttpOnly, kept from pages)."""
    await running_app.add_user("ada")
    await login(running_app.http, "ada")
    session = running_app.http.cookies["session"]
    token = csrf_of(await running_app.http.get("/"))
    assert token and session and token != session
    assert session not in (await running_app.http.get("/")).text
