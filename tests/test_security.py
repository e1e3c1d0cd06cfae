"""The defences of SECURITY.md, each against the running app."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from argon2 import PasswordHasher
from conftest import PASSWORD, RunningApp, csrf_of, hidden_fields, login, run_app
from processes import run_command

from account_binding.sessions import SessionService
from account_binding.sqlite_store import SQLiteStore


async def open_link(
    app: RunningApp, username: str, slack_user: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """`username` opens `slack_user`'s link in their own browser and logs in."""
    url = await app.link_for(slack_user)
    browser = app.browser()
    await browser.get(urlsplit(url).path)
    await login(browser, username, next_path="/bind")
    return browser, await browser.get("/bind")


def audit(app: RunningApp, event: str) -> list[tuple[object, ...]]:
    return app.query(
        "SELECT username, slack_user_id, client, detail FROM audit_events WHERE event = ? ORDER BY id",
        (event,),
    )


def set_cookie(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header that sets `name`."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


# Links


async def test_links_are_only_ever_shown_to_their_owner(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    for text in ("whoami", "link", "todo", "todo add x"):
        await app.command("U0ADA", text)
    await app.fake.send_slash_command("U0ADA", "whoami", channel_id="C0OTHER")
    await app.bind("ada", "U0ADA")
    with_links = [m for m in app.fake.state.messages if "/bind/" in json.dumps([m.text, m.blocks])]
    assert len(with_links) >= 5
    assert {(m.where, m.user_id) for m in with_links} == {("ephemeral", "U0ADA")}
    assert all(m.where != "channel" for m in app.fake.state.messages)


# The forwarded-link attack


async def test_the_confirm_page_names_the_slack_person_as_slack_reports_them(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.add_user("victim")
    _, response = await open_link(app, "victim", "U0ADA")  # Ada's link, opened by someone else
    page = response.text
    assert "Ada Lovelace" in page and "@ada" in page and "U0ADA" in page and "sandbox" in page
    assert "shown in Slack as “Ada”" in page
    assert "This Slack account will be able to act as you in Acme" in page
    assert [c.args["user"] for c in app.fake.state.api_calls if c.method == "users.info"] == [
        "U0ADA"
    ]


async def test_email_match_refuses_a_forwarded_link_and_voids_it(tmp_path: Path) -> None:
    async with run_app(tmp_path, REQUIRE_EMAIL_MATCH="true") as app:
        await app.add_user("victim", "victim@example.com")
        await app.add_user("ada", "Ada@Example.com")  # the fake Slack says ada@example.com
        browser, page = await open_link(app, "victim", "U0ADA")
        assert "same email address" in page.text
        refused = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
        assert refused.status_code == 403
        assert "does not match the email address of your Acme account" in refused.text
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]
        assert audit(app, "link_refused")[-1] == ("victim", "U0ADA", "127.0.0.1", "email_mismatch")
        assert app.query("SELECT count(*) FROM binding_requests WHERE used_at IS NULL") == [(0,)]

        await app.bind("ada", "U0ADA")  # the owner, whose addresses match
        assert app.query("SELECT u.username FROM bindings b JOIN users u ON u.id = b.user_id") == [
            ("ada",)
        ]


async def test_email_match_needs_the_email_scope_to_start(tmp_path: Path) -> None:
    from fake_slack import FakeSlack

    fake = FakeSlack(
        bot_token="xoxb-1", app_token="xapp-1", scopes=("commands", "chat:write", "users:read")
    )
    await fake.start()
    try:
        code, _, err = await run_command(
            tmp_path,
            "run",
            SECRET_KEY="k",
            SLACK_BOT_TOKEN="xoxb-1",
            SLACK_APP_TOKEN="xapp-1",
            SLACK_API_URL=fake.api_url,
            REQUIRE_EMAIL_MATCH="true",
        )
    finally:
        await fake.stop()
    assert code == 1 and "REQUIRE_EMAIL_MATCH needs the bot scope users:read.email" in err


async def test_every_bind_and_unbind_is_told_to_the_slack_person(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await app.fake.wait_for_message(lambda m: m.where == "dm" and "now connected" in m.text)
    await app.command("U0ADA", "unlink")
    await app.fake.wait_for_message(lambda m: m.where == "dm" and "no longer connected" in m.text)
    assert [m.user_id for m in app.fake.dms("U0ADA")] == ["U0ADA", "U0ADA"]


# Sessions and forms


async def test_session_cookies_are_httponly_samesite_and_secure_under_https(tmp_path: Path) -> None:
    async with run_app(tmp_path, PUBLIC_URL="https://bind.intranet.example") as app:
        await app.add_user("ada")
        form = await app.http.get("/login")
        login_cookie = form.headers["set-cookie"]
        assert (
            "login_csrf=" in login_cookie
            and "Secure" in login_cookie
            and "HttpOnly" in login_cookie
        )
        # This test reaches the site over plain http, where a client keeps Secure cookies back.
        app.http.cookies.set(
            "login_csrf", form.cookies["login_csrf"], domain="127.0.0.1", path="/login"
        )
        response = await app.http.post(
            "/login", data={"username": "ada", "password": PASSWORD, "csrf_token": csrf_of(form)}
        )
        cookie = set_cookie(response, "session")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
        url = await app.link_for("U0ADA")
        link_cookie = set_cookie(await app.http.get(urlsplit(url).path), "binding_link")
        assert (
            "HttpOnly" in link_cookie and "SameSite=lax" in link_cookie and "Secure" in link_cookie
        )
        assert "Path=/bind;" in link_cookie + ";"
        page = await app.http.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
    async with run_app(tmp_path / "plain") as app:
        await app.add_user("ada")
        cookie = set_cookie(await login(app.http, "ada"), "session")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert "strict-transport-security" not in (await app.http.get("/login")).headers


async def test_sessions_end_when_idle_and_at_their_maximum_age(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    now = [1_000_000]
    sessions = SessionService(store, idle_timeout=100, max_age=1000, clock=lambda: now[0])
    user = await store.create_user("ada", "a@example.com", "h", 1)
    idle = await sessions.start(user.id)
    now[0] += 101
    assert await sessions.resolve(idle) is None
    active = await sessions.start(user.id)
    for _ in range(11):
        now[0] += 90
        assert await sessions.resolve(active) is not None  # kept alive by use, 990 s at the end
    now[0] += 90
    assert await sessions.resolve(active) is None  # 1080 s since login: past the maximum age
    await store.close()


async def test_logout_needs_its_csrf_token(running_app: RunningApp) -> None:
    await running_app.add_user("ada")
    await login(running_app.http, "ada")
    refused = await running_app.http.post("/logout", data={"csrf_token": ""})
    assert refused.status_code == 403
    assert "logged in as" in (await running_app.http.get("/")).text


async def test_no_page_runs_or_embeds_script(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    pages = [
        await app.http.get(path) for path in ("/", "/login", "/bind", "/bind/nope", "/nowhere")
    ]
    pages.append(await app.http.get(urlsplit(url).path, follow_redirects=True))
    await login(app.http, "ada", next_path="/bind")
    pages.append(await app.http.get("/bind"))
    for page in pages:
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "frame-ancestors 'none'" in policy
        assert "<script" not in page.text.lower() and "onclick" not in page.text.lower()


# Login


async def test_a_password_hashed_with_old_parameters_is_rehashed_at_login(
    running_app: RunningApp,
) -> None:
    app = running_app
    user = await app.add_user("ada")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    await app.store.set_password_hash(user.id, weak)
    assert (await login(app.http, "ada")).status_code == 303
    (stored,) = app.query("SELECT password_hash FROM users WHERE id = ?", (user.id,))[0]
    assert stored != weak and not PasswordHasher().check_needs_rehash(str(stored))


async def test_an_unknown_user_costs_as_much_time_as_a_wrong_password(
    running_app: RunningApp,
) -> None:
    """A ratio, not a limit: both must pay for an argon2 verification."""
    app = running_app
    await app.add_user("ada")
    accounts = app.store

    from account_binding.accounts import AccountService

    service = AccountService(accounts)

    async def timed(username: str) -> float:
        start = time.perf_counter()
        assert await service.authenticate(username, "wrong password") is None
        return time.perf_counter() - start

    known = sorted([await timed("ada") for _ in range(5)])[2]
    unknown = sorted([await timed("nobody") for _ in range(5)])[2]
    print(f"median wrong-password {known * 1000:.1f} ms, unknown-user {unknown * 1000:.1f} ms")
    assert unknown > known / 4


async def test_failed_logins_are_slowed(tmp_path: Path) -> None:
    async with run_app(tmp_path, LOGIN_SLOWDOWN_SECONDS="0.3") as app:
        await app.add_user("ada")
        await login(app.browser(), "ada", "wrong")
        start = time.perf_counter()
        await login(app.browser(), "ada", "wrong")  # the second failure waits 2 x 0.3 s
        assert time.perf_counter() - start >= 0.6


async def test_an_account_is_locked_after_too_many_failures_even_for_the_right_password(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path, LOGIN_MAX_FAILURES="3") as app:
        await app.add_user("ada")
        statuses = [(await login(app.browser(), "ada", "wrong")).status_code for _ in range(3)]
        assert statuses == [400, 400, 400]
        locked = await login(app.browser(), "ada", PASSWORD)
        assert locked.status_code == 429 and "Too many failed attempts" in locked.text
        assert int(locked.headers["retry-after"]) == 900
        assert "session=" not in locked.headers.get("set-cookie", "")
        # A name that does not exist locks the same way: a lockout reveals no accounts.
        for _ in range(3):
            await login(app.browser(), "nobody", "wrong")
        assert (await login(app.browser(), "nobody", "wrong")).status_code == 429
        assert len(audit(app, "login_failed")) == 6
        assert ("ada", None, "127.0.0.1", "refused") in audit(app, "locked_out")
        # A typed name that is no account is not kept anywhere: it may be a password.
        assert (None, None, "127.0.0.1", "refused") in audit(app, "locked_out")
        assert "nobody" not in str(app.query("SELECT * FROM audit_events"))
        assert "nobody" not in str(app.query("SELECT * FROM login_failures"))


async def test_concurrent_attempts_cannot_slip_under_the_limit(tmp_path: Path) -> None:
    async with run_app(tmp_path, LOGIN_MAX_FAILURES="5") as app:
        await app.add_user("ada")
        forms = []
        for _ in range(20):
            browser = app.browser()
            page = await browser.get("/login")
            forms.append((browser, csrf_of(page)))
        responses = await asyncio.gather(
            *(
                browser.post(
                    "/login", data={"username": "ada", "password": "wrong", "csrf_token": token}
                )
                for browser, token in forms
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [400] * 5 + [429] * 15


async def test_a_new_password_ends_the_users_sessions(running_app: RunningApp) -> None:
    from account_binding.accounts import AccountService

    user = await running_app.add_user("ada")
    await login(running_app.http, "ada")
    assert "logged in as" in (await running_app.http.get("/")).text
    await AccountService(running_app.store).set_password(user, "a brand new password")
    assert "You are not logged in" in (await running_app.http.get("/")).text


async def test_an_address_is_refused_after_too_many_failures(tmp_path: Path) -> None:
    async with run_app(tmp_path, LOGIN_MAX_FAILURES_PER_ADDRESS="4") as app:
        await app.add_user("ada")
        for name in ("a", "b", "c", "d"):
            assert (await login(app.browser(), name, "wrong")).status_code == 400
        assert (await login(app.browser(), "ada", PASSWORD)).status_code == 429


async def test_lockout_ends_after_its_time(tmp_path: Path) -> None:
    async with run_app(tmp_path, LOGIN_MAX_FAILURES="1", LOGIN_LOCKOUT_SECONDS="1") as app:
        await app.add_user("ada")
        await login(app.browser(), "ada", "wrong")
        assert (await login(app.browser(), "ada", PASSWORD)).status_code == 429
        await asyncio.sleep(2.1)  # whole seconds: the failure must fall out of the window
        assert (await login(app.browser(), "ada", PASSWORD)).status_code == 303


# Audit


async def test_the_audit_log_records_binds_unbinds_refusals_and_logins(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await app.command("U0ADA", "unlink")
    await app.http.get("/bind/unknown-link-value")
    await login(app.browser(), "ada", "wrong")
    await login(app.http, "ada")
    await app.http.post("/logout", data={"csrf_token": csrf_of(await app.http.get("/"))})
    events = [row[0] for row in app.query("SELECT event FROM audit_events ORDER BY id")]
    for event in (
        "link_issued",
        "login",
        "bound",
        "unbound",
        "link_refused",
        "login_failed",
        "logout",
    ):
        assert event in events, events
    assert audit(app, "bound") == [("ada", "U0ADA", "127.0.0.1", None)]
    assert audit(app, "link_refused") == [(None, None, "127.0.0.1", "unknown")]

    code, out, err = await run_command(
        Path(app.settings.database).parent,
        "audit",
        "--event",
        "bound",
        "--json",
        DATABASE=str(app.settings.database),
        SECRET_KEY="k",
    )
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["event"], r["user"], r["slack_user"], r["slack_scope"]) for r in rows] == [
        ("bound", "ada", "U0ADA", "T0SANDBOX")
    ]
    code, out, _ = await run_command(
        Path(app.settings.database).parent,
        "audit",
        "--slack-user",
        "U0ADA",
        "--since",
        "1h",
        DATABASE=str(app.settings.database),
        SECRET_KEY="k",
    )
    assert code == 0 and "unbound" in out and "bound" in out and "login_failed" not in out


# The app from outside the site


async def test_a_post_from_another_site_is_refused_before_any_token(
    running_app: RunningApp,
) -> None:
    """Login CSRF with a planted cookie: the browser's Origin and Sec-Fetch-Site give it away."""
    await running_app.add_user("ada")
    form = await running_app.http.get("/login")
    data = {"username": "ada", "password": PASSWORD, "csrf_token": csrf_of(form)}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://sibling.localhost"},
    ):
        refused = await running_app.http.post("/login", data=data, headers=headers)
        assert refused.status_code == 403 and "session=" not in refused.headers.get(
            "set-cookie", ""
        )
    # What a browser sends from the site's own page under Referrer-Policy: no-referrer.
    own = await running_app.http.post(
        "/login", data=data, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    )
    assert own.status_code == 303


async def test_a_forged_host_header_gets_400(running_app: RunningApp) -> None:
    for path in ("/", "/login/", "/bind/"):
        response = await running_app.http.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 400
        assert "evil.example" not in response.headers.get("location", "")


async def test_the_home_page_lists_the_slack_accounts_that_act_as_you(
    running_app: RunningApp,
) -> None:
    """Someone tricked into confirming a forwarded link can see what they did."""
    await running_app.bind("ada", "U0GRACE")
    await login(running_app.http, "ada")
    home = await running_app.http.get("/")
    assert "Slack accounts that act as you" in home.text
    assert "@grace" in home.text and "U0GRACE" in home.text
