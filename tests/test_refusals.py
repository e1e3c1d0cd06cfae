"""A link must not be usable by the wrong person, twice, or after it expires."""

from __future__ import annotations

import asyncio
import sqlite3
from urllib.parse import urlsplit

import httpx
from conftest import RunningApp, csrf_of, find_link, hidden_fields, login

from account_binding.tokens import digest


async def open_and_login(
    app: RunningApp, browser: httpx.AsyncClient, url: str, username: str
) -> httpx.Response:
    opened = await browser.get(urlsplit(url).path)
    assert opened.status_code == 303, opened.text
    await login(browser, username, next_path="/bind")
    return await browser.get("/bind")


def count(app: RunningApp, sql: str) -> int:
    with sqlite3.connect(app.settings.database) as db:
        return int(db.execute(sql).fetchone()[0])


async def test_an_unknown_link_gets_a_404_page_that_says_what_to_do(
    running_app: RunningApp,
) -> None:
    for nonce in ("not-a-real-nonce", "x" * 500, "%00%3Cscript%3E"):
        page = await running_app.http.get(f"/bind/{nonce}")
        assert page.status_code == 404
        assert "Run the app&#39;s slash command with link in Slack again" in page.text
        assert "binding_link" not in page.headers.get("set-cookie", "")


async def test_an_expired_link_is_refused_on_open_and_on_confirm(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    page = await open_and_login(app, app.http, url, "ada")
    assert page.status_code == 200
    with sqlite3.connect(app.settings.database) as db:
        db.execute("UPDATE binding_requests SET expires_at = 1")

    confirmed = await app.http.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert confirmed.status_code == 410 and "expired" in confirmed.text
    reopened = await app.browser().get(urlsplit(url).path)
    assert reopened.status_code == 410 and "expired" in reopened.text
    assert count(app, "SELECT count(*) FROM bindings") == 0


async def test_a_used_link_cannot_be_used_again_by_anyone(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    await app.add_user("mallory")
    url = await app.link_for("U0ADA")
    page = await open_and_login(app, app.http, url, "ada")
    done = await app.http.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200

    other = app.browser()
    await login(other, "mallory")
    replay = await other.get(urlsplit(url).path)
    # The Slack person is bound now, so the used link says so, without naming the account.
    assert replay.status_code == 409 and "Already connected" in replay.text
    assert "<strong>ada</strong>" not in replay.text
    assert count(app, "SELECT count(*) FROM bindings") == 1
    assert count(app, f"SELECT count(*) FROM bindings WHERE user_id = {app.users['ada'].id}") == 1


async def test_a_get_never_binds(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    page = await open_and_login(app, app.http, url, "ada")
    assert page.status_code == 200
    for _ in range(3):
        assert (await app.http.get("/bind")).status_code == 200
        assert (await app.http.get(urlsplit(url).path)).status_code == 303
    assert count(app, "SELECT count(*) FROM bindings") == 0
    assert count(app, "SELECT count(*) FROM binding_requests WHERE used_at IS NULL") == 1


async def test_a_post_without_its_csrf_token_is_refused(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    await app.add_user("mallory")
    url = await app.link_for("U0ADA")
    page = await open_and_login(app, app.http, url, "ada")
    attacker = app.browser()
    await login(attacker, "mallory")
    attacker_token = csrf_of(await attacker.get("/"))

    link_id = hidden_fields(page)["link_id"]
    for data in (
        {"action": "connect"},
        {"action": "connect", "csrf_token": ""},
        {"action": "connect", "csrf_token": "guess"},
        {"action": "connect", "csrf_token": attacker_token},  # another session's token
    ):
        refused = await app.http.post("/bind", data={**data, "link_id": link_id})
        assert refused.status_code == 403, data
        assert "did not come from this site" in refused.text
    assert count(app, "SELECT count(*) FROM bindings") == 0
    # The real form still works afterwards: nothing was consumed.
    assert (
        await app.http.post("/bind", data={**hidden_fields(page), "action": "connect"})
    ).status_code == 200


async def test_two_concurrent_confirmations_of_one_link_make_one_binding(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.add_user("ada")
    await app.add_user("bob")
    url = await app.link_for("U0ADA")
    first, second = app.browser(), app.browser()
    page_one = await open_and_login(app, first, url, "ada")
    page_two = await open_and_login(app, second, url, "bob")
    results = await asyncio.gather(
        first.post("/bind", data={**hidden_fields(page_one), "action": "connect"}),
        second.post("/bind", data={**hidden_fields(page_two), "action": "connect"}),
    )
    # The loser is told the Slack account is connected now (not to which account).
    assert sorted(r.status_code for r in results) == [200, 409]
    assert any("Already connected" in r.text for r in results)
    assert count(app, "SELECT count(*) FROM bindings") == 1
    assert count(app, "SELECT count(*) FROM api_tokens") == 1


async def test_cancel_binds_nothing_and_voids_the_link(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    page = await open_and_login(app, app.http, url, "ada")
    cancelled = await app.http.post("/bind", data={**hidden_fields(page), "action": "cancel"})
    assert cancelled.status_code == 200 and "Nothing was connected" in cancelled.text
    assert count(app, "SELECT count(*) FROM bindings") == 0
    assert (await app.browser().get(urlsplit(url).path)).status_code == 410


async def test_a_new_link_voids_the_older_one(running_app: RunningApp) -> None:
    app = running_app
    old = await app.link_for("U0ADA")
    new = await app.link_for("U0ADA")
    assert old != new
    assert (await app.http.get(urlsplit(old).path)).status_code == 410
    assert (await app.http.get(urlsplit(new).path)).status_code == 303


async def test_confirming_needs_a_login(running_app: RunningApp) -> None:
    app = running_app
    url = await app.link_for("U0ADA")
    await app.http.get(urlsplit(url).path)
    link_id = digest(urlsplit(url).path.rsplit("/", 1)[1])
    posted = await app.http.post(
        "/bind", data={"action": "connect", "csrf_token": "x", "link_id": link_id}
    )
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
    assert count(app, "SELECT count(*) FROM bindings") == 0


async def test_the_binding_page_without_a_link_says_what_to_do(running_app: RunningApp) -> None:
    page = await running_app.http.get("/bind")
    assert page.status_code == 400 and "Run the app&#39;s slash command" in page.text


async def test_connect_binds_only_the_link_the_page_showed(running_app: RunningApp) -> None:
    """Opening another link after the page was shown swaps the link cookie; the form must not
    then bind the other Slack account."""
    app = running_app
    await app.add_user("ada")
    shown = await open_and_login(app, app.http, await app.link_for("U0ADA"), "ada")
    assert "U0ADA" in shown.text
    other = await app.link_for("U0GRACE")
    await app.http.get(urlsplit(other).path)  # e.g. a navigation an attacker caused
    posted = await app.http.post("/bind", data={**hidden_fields(shown), "action": "connect"})
    assert posted.status_code == 409 and "Another binding link was opened" in posted.text
    assert count(app, "SELECT count(*) FROM bindings") == 0


async def test_logout_forgets_a_pending_link(running_app: RunningApp) -> None:
    app = running_app
    await app.add_user("ada")
    page = await open_and_login(app, app.http, await app.link_for("U0ADA"), "ada")
    out = await app.http.post("/logout", data={"csrf_token": csrf_of(page)})
    assert 'binding_link=""' in out.headers.get(
        "set-cookie", ""
    ) or "binding_link=;" in out.headers.get("set-cookie", "")
    await app.add_user("bob")
    await login(app.http, "bob", next_path="/bind")
    assert (await app.http.get("/bind")).status_code == 400  # no link: the next person sees none


async def test_an_overlong_form_field_gets_413(running_app: RunningApp) -> None:
    form = await running_app.http.get("/login")
    response = await running_app.http.post(
        "/login", data={"username": "x" * 5000, "password": "p", "csrf_token": csrf_of(form)}
    )
    assert response.status_code == 413 and "too long" in response.text


async def test_connect_in_a_second_tab_says_already_connected(running_app: RunningApp) -> None:
    """After Connect in one tab, Connect (or Cancel) in a second tab of the same browser is
    told the truth: the account is connected, to this very account; not that no link was
    opened in this browser, nor that nothing was connected."""
    app = running_app
    await app.add_user("ada")
    first = await open_and_login(app, app.http, await app.link_for("U0ADA"), "ada")
    second = await app.http.get("/bind")
    done = await app.http.post("/bind", data={**hidden_fields(first), "action": "connect"})
    assert done.status_code == 200
    for action in ("connect", "cancel"):
        again = await app.http.post("/bind", data={**hidden_fields(second), "action": action})
        assert again.status_code == 409 and "Already connected" in again.text, action
        assert "your Acme account <strong>ada</strong>" in again.text
        assert "none was opened" not in again.text and "Nothing was connected" not in again.text
    reloaded = await app.http.get("/bind")
    assert reloaded.status_code == 409 and "Already connected" in reloaded.text
    assert count(app, "SELECT count(*) FROM bindings") == 1


async def test_the_link_cookie_outlives_the_link_so_a_late_press_says_expired(
    running_app: RunningApp,
) -> None:
    """A browser drops the link cookie at its Max-Age: it lasts minutes past the link, so that
    Connect pressed after the link expired says "expired", not that no link was opened."""
    app = running_app
    url = await app.link_for("U0ADA")
    opened = await app.http.get(urlsplit(url).path)
    cookie = next(h for h in opened.headers.get_list("set-cookie") if "binding_link=" in h)
    max_age = int(cookie.lower().split("max-age=")[1].split(";")[0])
    assert max_age >= app.settings.binding_ttl + 300
    assert "Path=/;" in cookie + ";"


async def test_link_pages_name_the_command(running_app: RunningApp) -> None:
    """A used, replaced or expired link says which command gives a new one ("/acme link")."""
    app = running_app
    old = await app.link_for("U0ADA")
    new = await app.link_for("U0ADA")  # replaces the old one
    # The Slack side stores the command each link came from (a no-op once it does so itself).
    with sqlite3.connect(app.settings.database) as db:
        db.execute("UPDATE binding_requests SET command = '/acme' WHERE command IS NULL")
    replaced = await app.browser().get(urlsplit(old).path)
    # A replaced link says a newer one was sent (issue 10, never a dead button).
    assert replaced.status_code == 410 and "A newer link was sent" in replaced.text
    assert "run /acme link in Slack for another" in replaced.text
    with sqlite3.connect(app.settings.database) as db:
        db.execute("UPDATE binding_requests SET expires_at = 1")
    expired = await app.browser().get(urlsplit(new).path)
    assert expired.status_code == 410 and "Run /acme link in Slack again" in expired.text


async def test_a_used_link_of_a_bound_person_says_already_connected(
    running_app: RunningApp,
) -> None:
    """An old Connect button pressed after binding: "already connected", not "already used";
    and the success page named both the Slack person (ID, workspace) and the account."""
    app = running_app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    page = await open_and_login(app, app.http, url, "ada")
    done = await app.http.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200
    assert "U0ADA" in done.text and "sandbox" in done.text
    assert "Ada Lovelace" in done.text or "@ada" in done.text
    assert "your Acme account <strong>ada</strong>" in done.text
    old_button = await app.http.get(urlsplit(url).path)
    assert old_button.status_code == 409 and "Already connected" in old_button.text
    assert "Link already used" not in old_button.text


async def test_only_the_links_own_login_makes_the_page_ask_slack(running_app: RunningApp) -> None:
    """Slack rate-limits users.info for the whole app: a holder of a link who has not logged
    in for it cannot make the confirm page ask Slack about anyone, however often they load it."""
    app = running_app
    await app.add_user("ada")
    url = await app.link_for("U0ADA")
    browser = app.browser()
    assert (await browser.get(urlsplit(url).path)).status_code == 303

    def users_info_calls() -> int:
        return sum(1 for call in app.fake.state.api_calls if call.method == "users.info")

    for _ in range(20):
        page = await browser.get("/bind")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert users_info_calls() == 0

    await login(browser, "ada", next_path="/bind")
    confirm_page = await browser.get("/bind")
    assert confirm_page.status_code == 200 and "U0ADA" in confirm_page.text
    assert users_info_calls() == 1


async def test_a_replaced_or_cancelled_link_is_audited_as_such_not_as_used(
    running_app: RunningApp,
) -> None:
    """An administrator reading the audit log must not think someone used a link nobody
    used: a link replaced by a newer one, or cancelled, says so."""
    app = running_app
    await app.add_user("ada")
    first = find_link(await app.command("U0ADA", "link"))
    second = find_link(await app.command("U0ADA", "link"))  # replaces the first
    page = await app.http.get(first.replace(app.settings.public_url, ""))
    assert page.status_code == 410 and "A newer link was sent" in page.text
    browser, confirm = await app.open_link_as("ada", second)
    await browser.post("/bind", data={**hidden_fields(confirm), "action": "cancel"})
    again = await app.browser().get(second.replace(app.settings.public_url, ""))
    assert again.status_code == 410
    details = app.query("SELECT detail FROM audit_events WHERE event = 'link_refused'")
    assert ("replaced",) in details and ("cancelled",) in details
    assert ("used",) not in details
