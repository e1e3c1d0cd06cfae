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
from unbinding import disconnect

from account_binding.sessions import SessionService
from account_binding.sqlite_store import SQLiteStore
from account_binding.tokens import digest


async def open_link(
    app: RunningApp, username: str, slack_user: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """`username` opens `slack_user`'s link in their own browser and logs in."""
    return await app.open_link_as(username, await app.link_for(slack_user))


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
    assert 'Display name: <bdi class="name">Ada</bdi>' in page
    # What the person cannot choose comes first, the names they chose after, marked as such.
    assert page.index("U0ADA") < page.index("chose in Slack") < page.index("Ada Lovelace")
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
            SECRET_KEY="x4Jq0r2mT8vLw6bN1cZs9eYh3uKd5fGa7pRt",
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
    await disconnect(app, "U0ADA")
    await app.fake.wait_for_message(lambda m: m.where == "dm" and "no longer connected" in m.text)
    assert [m.user_id for m in app.fake.dms("U0ADA")] == ["U0ADA", "U0ADA"]


# Sessions and forms


async def test_session_cookies_are_httponly_samesite_and_secure_under_https(tmp_path: Path) -> None:
    """Under https every cookie is Secure, HttpOnly, Path=/ with no Domain, and takes the
    `__Host-` prefix, which a browser accepts only from this host over https: a sibling
    subdomain or a plain-http neighbour cannot plant or shadow it. The unprefixed names are
    not read at all."""
    async with run_app(tmp_path, PUBLIC_URL="https://bind.intranet.example") as app:
        await app.add_user("ada")
        form = await app.http.get("/login")
        for cookie in (set_cookie(form, "__Host-login_csrf"),):
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert "Path=/;" in cookie + ";" and "domain" not in cookie.lower()
        # This test reaches the site over plain http, where a client keeps Secure cookies back.
        token = form.cookies["__Host-login_csrf"]
        app.http.cookies.set("__Host-login_csrf", token, domain="127.0.0.1")
        data = {"username": "ada", "password": PASSWORD, "csrf_token": csrf_of(form)}
        response = await app.http.post("/login", data=data)
        cookie = set_cookie(response, "__Host-session")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
        assert "Path=/;" in cookie + ";" and "domain" not in cookie.lower()
        session = response.cookies["__Host-session"]
        url = await app.link_for("U0ADA")
        link_cookie = set_cookie(await app.http.get(urlsplit(url).path), "__Host-binding_link")
        assert (
            "HttpOnly" in link_cookie and "SameSite=lax" in link_cookie and "Secure" in link_cookie
        )
        assert "Path=/;" in link_cookie + ";" and "domain" not in link_cookie.lower()
        page = await app.http.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")

        # The names without the prefix, which a neighbour could set, mean nothing here.
        plain = app.browser()
        plain.cookies.set("session", session, domain="127.0.0.1")
        assert "You are not logged in" in (await plain.get("/")).text
        prefixed = app.browser()
        prefixed.cookies.set("__Host-session", session, domain="127.0.0.1")
        assert "logged in as <strong>ada</strong>" in (await prefixed.get("/")).text
        plain.cookies.set("login_csrf", token, domain="127.0.0.1")
        refused = await plain.post("/login", data=data)
        assert refused.status_code == 403
    async with run_app(tmp_path / "plain") as app:
        await app.add_user("ada")
        cookie = set_cookie(await login(app.http, "ada"), "session")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert "__Host-" not in cookie  # a browser refuses the prefix without Secure
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
    await disconnect(app, "U0ADA")
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
        SECRET_KEY="x4Jq0r2mT8vLw6bN1cZs9eYh3uKd5fGa7pRt",
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
        SECRET_KEY="x4Jq0r2mT8vLw6bN1cZs9eYh3uKd5fGa7pRt",
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
        {"Sec-Fetch-Site": "none", "Origin": running_app.settings.public_origin},
    ):
        refused = await running_app.http.post("/login", data=data, headers=headers)
        assert refused.status_code == 403 and "session=" not in refused.headers.get(
            "set-cookie", ""
        )
    # What a browser sends from the site's own page over https or on localhost.
    own = await running_app.http.post(
        "/login", data=data, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    )
    assert own.status_code == 303


async def test_a_post_with_no_fetch_metadata_needs_this_sites_origin(tmp_path: Path) -> None:
    """The issue's input: PUBLIC_URL is plain http and not localhost, so browsers send no
    Sec-Fetch-Site. A login post with `Origin: null` (or none, or a neighbour's), a planted
    login_csrf cookie and the matching form token must not log anyone in."""
    async with run_app(tmp_path, PUBLIC_URL="http://binding.test") as app:
        await app.add_user("mallory")
        form = await app.http.get("/login")  # the attacker's own token, planted with its cookie
        data = {"username": "mallory", "password": PASSWORD, "csrf_token": csrf_of(form)}
        for origin in ("null", None, "http://binding.test:8081", "https://binding.test"):
            victim = httpx.AsyncClient(base_url=app.base_url, trust_env=False)
            app.browsers.append(victim)
            victim.cookies.set("login_csrf", form.cookies["login_csrf"], domain="127.0.0.1")
            headers = {"Origin": origin} if origin else {}
            refused = await victim.post("/login", data=data, headers=headers)
            assert refused.status_code == 403, origin
            assert "did not come from this site" in refused.text
            assert "session" not in refused.headers.get("set-cookie", "")
        own = await app.http.post("/login", data=data, headers={"Origin": "http://binding.test"})
        assert own.status_code == 303 and own.cookies.get("session")


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
    assert "T0SANDBOX/U0GRACE" in home.text  # as `account-binding unbind` takes it
    # With the real name Slack reported at binding time, both names are shown.
    running_app.query("UPDATE bindings SET real_name = 'Grace Hopper'")
    home = await running_app.http.get("/")
    assert "Grace Hopper" in home.text and "@grace" in home.text


# Cookie integrity: sessions planted by a neighbour


async def test_a_planted_session_never_binds(running_app: RunningApp) -> None:
    """The issue's scenario: the attacker logs in and plants their session cookie in the
    victim's browser (a site on another port of the host can; a sibling subdomain adds a copy
    with Domain= the parent). The victim runs the link command and opens their own link: they
    are asked to log in, never shown the attacker's account, and Connect with the planted
    session binds nothing. Their own login then binds to them."""
    app = running_app
    await app.add_user("ada")
    await app.add_user("mallory")
    attacker = app.browser()
    # A session of the attacker's made for a link of the attacker's own, and a plain one.
    _, attackers_page = await open_link(app, "mallory", "U0GRACE")
    attackers_form = hidden_fields(attackers_page)
    planted_for_link = next(c.value for c in app.browsers[-1].cookies.jar if c.name == "session")
    await login(attacker, "mallory")
    planted_plain = attacker.cookies["session"]

    for planted in (planted_for_link, planted_plain):
        victim = app.browser()
        url = await app.link_for("U0ADA")
        assert (await victim.get(urlsplit(url).path)).status_code == 303
        victim.cookies.set("session", planted, domain="127.0.0.1")
        page = await victim.get("/bind")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fbind"
        assert "mallory" not in page.text
        link_id = digest(urlsplit(url).path.rsplit("/", 1)[1])
        for csrf_token in (attackers_form["csrf_token"], csrf_of(await attacker.get("/"))):
            posted = await victim.post(
                "/bind",
                data={"csrf_token": csrf_token, "link_id": link_id, "action": "connect"},
            )
            assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]

    # The victim logs in for their link; the planted session is ended, and Connect binds Ada.
    await login(victim, "ada", next_path="/bind")
    page = await victim.get("/bind")
    assert page.status_code == 200 and "<strong>ada</strong>" in page.text
    done = await victim.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200
    assert app.query(
        "SELECT u.username, b.slack_user_id FROM bindings b JOIN users u ON u.id = b.user_id"
    ) == [("ada", "U0ADA")]


async def test_an_older_login_must_log_in_again_for_a_link(running_app: RunningApp) -> None:
    """Only a login made for this link in this browser confirms it: a session from before the
    link was opened, or made for another link, is asked to log in again."""
    app = running_app
    await app.add_user("ada")
    browser = app.browser()
    await login(browser, "ada")  # logged in earlier, for nothing in particular
    first = await app.link_for("U0ADA")
    await browser.get(urlsplit(first).path)
    assert (await browser.get("/bind")).headers["location"] == "/login?next=%2Fbind"
    form = await browser.get("/login?next=/bind")  # the form, although logged in
    assert form.status_code == 200 and 'name="link_id"' in form.text
    assert "/bind/" not in form.text  # the form carries the link's hash, never the link
    await login(browser, "ada", next_path="/bind")
    assert (await browser.get("/bind")).status_code == 200
    # A newer link in the same browser needs a login of its own.
    second = await app.link_for("U0ADA")
    await browser.get(urlsplit(second).path)
    assert (await browser.get("/bind")).status_code == 303
    await login(browser, "ada", next_path="/bind")
    assert (await browser.get("/bind")).status_code == 200


async def test_a_login_form_for_one_link_does_not_log_in_for_another(
    running_app: RunningApp,
) -> None:
    """The login form carries the hash of the link it was shown for; if another link was
    opened in the browser before it is posted, nobody is logged in (409)."""
    app = running_app
    await app.add_user("ada")
    browser = app.browser()
    await browser.get(urlsplit(await app.link_for("U0ADA")).path)
    form = await browser.get("/login?next=/bind")
    await browser.get(urlsplit(await app.link_for("U0GRACE")).path)  # swapped meanwhile
    posted = await browser.post(
        "/login", data={**hidden_fields(form), "username": "ada", "password": PASSWORD}
    )
    assert posted.status_code == 409 and "The link changed" in posted.text
    assert "session" not in posted.headers.get("set-cookie", "")


async def test_two_cookies_of_one_name_count_as_none(running_app: RunningApp) -> None:
    """A copy planted beside the site's own cookie (another path, or Domain= the parent) makes
    the browser send both; nothing says which is the site's, so neither is read."""
    app = running_app
    await app.add_user("ada")
    await app.add_user("mallory")
    attacker = app.browser()
    await login(attacker, "mallory")
    theirs = attacker.cookies["session"]
    url = await app.link_for("U0ADA")
    victim = app.browser()
    await victim.get(urlsplit(url).path)
    await login(victim, "ada", next_path="/bind")
    ours = victim.cookies["session"]
    link = victim.cookies["binding_link"]
    assert "logged in as <strong>ada</strong>" in (await victim.get("/")).text

    raw = httpx.AsyncClient(
        base_url=app.base_url, trust_env=False, headers={"Origin": app.settings.public_origin}
    )
    app.browsers.append(raw)
    for cookie in (f"session={theirs}; session={ours}", f"session={ours}; session={theirs}"):
        home = await raw.get("/", headers={"Cookie": cookie})
        assert "You are not logged in" in home.text, cookie
        bind = await raw.get("/bind", headers={"Cookie": f"{cookie}; binding_link={link}"})
        assert bind.status_code == 303 and bind.headers["location"].startswith("/login")
    twice = await raw.get(
        "/bind", headers={"Cookie": f"session={ours}; binding_link={link}; binding_link=x"}
    )
    assert twice.status_code == 400 and "No link to connect" in twice.text
    form = await raw.get("/login")
    token = form.cookies["login_csrf"]
    refused = await raw.post(
        "/login",
        data={"username": "ada", "password": PASSWORD, "csrf_token": token},
        headers={"Cookie": f"login_csrf={token}; login_csrf={token}"},
    )
    assert refused.status_code == 403
    assert app.query("SELECT count(*) FROM bindings") == [(0,)]


# What the confirm page takes as evidence


async def test_the_confirm_page_leads_with_what_the_person_cannot_choose(
    running_app: RunningApp,
) -> None:
    """The issue's profile: a display name with a right-to-left override and a 5,000-character
    real name ending in "Verified, safe to connect". The page leads with the user ID and
    workspace; the chosen names follow, marked as chosen, each isolated (<bdi>) and cut."""
    import dataclasses

    from fake_slack.workspace import FakeUser

    app = running_app
    eve = FakeUser(
        "U0EVE", "eve", "A" * 4975 + "Verified, safe to connect", "eve@example.com", "alice\u202e"
    )
    app.fake.workspace = dataclasses.replace(
        app.fake.workspace, users=(*app.fake.workspace.users, eve)
    )
    await app.add_user("victim")
    _, response = await open_link(app, "victim", "U0EVE")
    page = response.text
    assert response.status_code == 200
    assert page.index("U0EVE") < page.index("chose in Slack") < page.index("AAAA")
    assert "Verified, safe to connect" not in page
    assert "A" * 100 not in page
    for at in [i for i, c in enumerate(page) if c == "\u202e"]:
        assert page.rfind("<bdi", 0, at) > page.rfind("</bdi>", 0, at)  # inside an isolate


async def test_avatars_come_only_from_slacks_image_hosts(running_app: RunningApp) -> None:
    """An avatar is shown only from https://*.slack-edge.com (else initials), and the
    Content-Security-Policy lets the browser fetch images from nowhere else."""
    from account_binding.text import slack_image_url as slack_image

    good = "https://avatars.slack-edge.com/2024-01-01/1_abc_72.png"
    assert slack_image(good) == good
    for bad in (
        "https://evil.example/a.png",
        "http://avatars.slack-edge.com/a.png",
        "https://slack-edge.com.evil.example/a.png",
        "https://evil.example/avatars.slack-edge.com/a.png",
        "https://avatars.slack-edge.com:8443/a.png",
        "//avatars.slack-edge.com/a.png",
        "data:image/png;base64,AAAA",
        "",
        None,
    ):
        assert slack_image(bad) is None, bad
    policy = (await running_app.http.get("/login")).headers["content-security-policy"]
    assert "img-src 'self' https://*.slack-edge.com;" in policy
    assert "https:;" not in policy and "data:" not in policy


async def test_a_slack_failure_on_connect_keeps_the_link_and_asks_to_try_again(
    tmp_path: Path,
) -> None:
    """REQUIRE_EMAIL_MATCH and Slack answering users.info with a failure when Connect is
    pressed: a 503 page saying to try again in a minute, the link kept (and its cookie), no
    "Email addresses do not match"; pressing Connect again later binds.

    Needs BindingService.confirm to raise SlackUnavailable (fix-store) from the directory
    (fix-slack); on fix-web alone, confirm still reads the failure as a mismatch."""
    async with run_app(tmp_path, REQUIRE_EMAIL_MATCH="true") as app:
        await app.add_user("ada")
        browser, page = await open_link(app, "ada", "U0ADA")
        assert page.status_code == 200
        app.fake.fail("users.info", "ratelimited", times=3)
        first = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
        assert first.status_code == 503, first.text
        assert "Slack did not answer; your link still works, try again in a minute" in first.text
        assert "do not match" not in first.text
        assert "binding_link" not in first.headers.get("set-cookie", "")
        assert app.query("SELECT count(*) FROM binding_requests WHERE used_at IS NULL") == [(1,)]
        assert audit(app, "slack_error")
        assert not audit(app, "link_refused")
        for _ in range(5):
            again = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
            if again.status_code != 503:
                break
        assert again.status_code == 200, again.text
        assert app.query("SELECT count(*) FROM bindings") == [(1,)]
