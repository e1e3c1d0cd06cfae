"""The lifecycle end to end: Slack's lifecycle events through the real app over Socket Mode,
and an administrator's `user disable|enable|remove` through the command as a child process,
seen from Slack and from the site."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import RunningApp, find_link, hidden_fields, login, run_app
from processes import run_command

from fake_slack import FakeSlack

SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-test-bot-token",
    "SLACK_APP_TOKEN": "xapp-test-app-token",
    "SECRET_KEY": "test-secret-key-for-encryption-at-rest",
}


async def send_event(fake: FakeSlack, event: dict[str, Any], **delivery: Any) -> None:
    """Deliver `event` as Slack's Events API does; the app acknowledges it at once."""
    outcome = await fake.send_event(event, **delivery)
    assert outcome.acked


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait until `check()` holds: the app handles an event after acknowledging it."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the app did not handle the event in time")
        await asyncio.sleep(0.05)


def bindings(app: RunningApp) -> list[str]:
    return [str(row[0]) for row in app.query("SELECT slack_user_id FROM bindings ORDER BY 1")]


def audit(app: RunningApp, event: str) -> list[tuple[object, ...]]:
    return app.query(
        "SELECT username, slack_user_id, client, detail FROM audit_events WHERE event = ? "
        "ORDER BY id",
        (event,),
    )


# Slack's lifecycle events


async def test_app_uninstalled_removes_the_workspaces_bindings_and_the_next_command_links(
    running_app: RunningApp,
) -> None:
    app = running_app
    ada_token = await app.bind("ada", "U0ADA")
    await app.bind("grace", "U0GRACE")
    pending = await app.link_for("U0ALAN")
    api_calls = len(app.fake.state.api_calls)

    await send_event(app.fake, app.fake.app_uninstalled_event())

    await eventually(lambda: len(audit(app, "binding_removed_by_slack")) == 2)
    assert bindings(app) == []
    assert sorted(audit(app, "binding_removed_by_slack")) == [
        ("ada", "U0ADA", "slack", "app_uninstalled"),
        ("grace", "U0GRACE", "slack", "app_uninstalled"),
    ]
    # Their tokens no longer work, Alan's link is void, and nobody was sent anything.
    me = await app.http.get("/api/me", headers={"Authorization": f"Bearer {ada_token}"})
    assert me.status_code == 401
    opened = await app.browser().get(urlsplit(pending).path)
    assert opened.status_code == 410
    assert app.fake.state.api_calls[api_calls:] == []
    # Installed again: the next command starts binding afresh.
    assert find_link(await app.command("U0ADA", "whoami"))


async def test_app_uninstalled_needs_no_auth_test_once_the_token_is_revoked(
    tmp_path: Path,
) -> None:
    """Bolt skips auth.test for app_uninstalled and tokens_revoked, and so does the app: with
    the token revoked, auth.test would fail and the event would be lost."""
    async with run_app(tmp_path) as app:
        await _bind_without_slack(app, "ada", "U0ADA")  # no command: auth.test never ran
        app.fake.fail("auth.test", "token_revoked", times=50)
        await send_event(app.fake, app.fake.app_uninstalled_event())
        await eventually(lambda: not bindings(app))
        assert not [c for c in app.fake.state.api_calls if c.method == "auth.test"]


async def test_tokens_revoked_for_the_bot_removes_bindings_and_for_users_only_nothing(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await send_event(
        app.fake, app.fake.tokens_revoked_event(bot=False, oauth_user_ids=("U0GRACE",))
    )
    await send_event(app.fake, app.fake.user_change_event("U0ALAN", deleted=True))  # a marker
    await eventually(lambda: bool(app.query("SELECT 1 FROM slack_events LIMIT 1")))
    await asyncio.sleep(0.3)
    assert bindings(app) == ["U0ADA"]

    await send_event(app.fake, app.fake.tokens_revoked_event())
    await eventually(lambda: bool(audit(app, "binding_removed_by_slack")))
    assert bindings(app) == []
    assert audit(app, "binding_removed_by_slack") == [("ada", "U0ADA", "slack", "tokens_revoked")]


async def test_a_deleted_slack_user_loses_their_binding_and_other_changes_do_nothing(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await app.bind("grace", "U0GRACE")
    pending = await app.link_for("U0ALAN")
    await send_event(app.fake, app.fake.user_change_event("U0ADA", deleted=False))
    await send_event(app.fake, app.fake.user_change_event("U0GRACE", deleted=True))
    await send_event(app.fake, app.fake.user_change_event("U0ALAN", deleted=True))

    await eventually(lambda: bool(audit(app, "binding_removed_by_slack")))
    await eventually(lambda: len(app.query("SELECT * FROM slack_events")) == 2)
    # The delivery is recorded before its acknowledgement; the link is ended by the listener.
    await eventually(
        lambda: (
            app.query(
                "SELECT ended_reason FROM binding_requests WHERE slack_user_id = ?", ("U0ALAN",)
            )
            == [("ended",)]
        )
    )
    assert bindings(app) == ["U0ADA"]
    assert audit(app, "binding_removed_by_slack") == [("grace", "U0GRACE", "slack", "user_change")]
    [(reason,)] = app.query(
        "SELECT ended_reason FROM binding_requests WHERE slack_user_id = ?", ("U0ALAN",)
    )
    assert reason == "ended"
    assert (await app.browser().get(urlsplit(pending).path)).status_code == 410
    # A profile change writes nothing: only the two deletions were recorded.
    assert len(app.query("SELECT * FROM slack_events")) == 2


async def test_an_event_delivered_twice_is_handled_once(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await send_event(app.fake, app.fake.app_uninstalled_event(), event_id="Ev0TWICE")
    await eventually(lambda: bool(audit(app, "binding_removed_by_slack")))
    await app.bind("grace", "U0GRACE")  # installed again, and bound since

    await send_event(  # Slack retries the delivery
        app.fake, app.fake.app_uninstalled_event(), event_id="Ev0TWICE", retry_attempt=1
    )
    await send_event(
        app.fake, app.fake.user_change_event("U0ALAN", deleted=True)
    )  # a marker after it
    await eventually(lambda: len(app.query("SELECT * FROM slack_events")) == 2)
    await asyncio.sleep(0.3)

    assert bindings(app) == ["U0GRACE"]
    assert len(audit(app, "binding_removed_by_slack")) == 1


async def test_an_org_wide_uninstall_removes_the_organisations_bindings(tmp_path: Path) -> None:
    async with run_app(tmp_path) as app:
        app.fake.join_org("E0ACME", "Acme", is_enterprise_install=True)
        await app.bind("ada", "U0ADA")
        # Grace connected from another workspace of the organisation.
        await _bind_without_slack(app, "grace", "W0GRACE", team="T0OTHER", enterprise="E0ACME")
        assert app.query("SELECT scope_id, team_id FROM bindings ORDER BY 2") == [
            ("E0ACME", "T0OTHER"),
            ("E0ACME", "T0SANDBOX"),
        ]
        await send_event(app.fake, app.fake.app_uninstalled_event())
        await eventually(lambda: len(audit(app, "binding_removed_by_slack")) == 2)
        assert bindings(app) == []


async def _bind_without_slack(
    app: RunningApp,
    username: str,
    slack_user: str,
    *,
    team: str | None = None,
    enterprise: str | None = None,
) -> None:
    """A binding made in the store alone: nothing is asked of Slack."""
    from account_binding.models import SlackIdentity, SlackProfile
    from account_binding.tokens import digest

    user = await app.add_user(username)
    who = SlackIdentity.from_ids(
        team_id=team or app.fake.workspace.team_id, user_id=slack_user, enterprise_id=enterprise
    )
    now = int(time.time())
    await app.store.add_binding_request(
        digest("n-" + slack_user), who, SlackProfile(slack_user.lower(), "Sandbox"), now, now + 600
    )
    await app.store.complete_binding(digest("n-" + slack_user), user.id, now, None, None)


# An administrator disables, enables and removes accounts


async def admin(app: RunningApp, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`account-binding ARGS` against the running app's database and fake Slack."""
    return await run_command(
        app.settings.database.parent,
        *args,
        stdin=stdin,
        SLACK_API_URL=app.fake.api_url,
        DATABASE=str(app.settings.database),
        **SLACK,
    )


async def test_a_disabled_account_is_disconnected_told_and_kept_out_until_enabled(
    running_app: RunningApp,
) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")
    await app.add_user("grace")
    browser = app.browser()
    await login(browser, "ada")
    assert "You are logged in as <strong>ada</strong>" in (await browser.get("/")).text

    code, out, err = await admin(app, "user", "disable", "ada")

    assert code == 0 and "Disabled ada: 1 Slack account(s) disconnected" in out, err
    assert bindings(app) == []
    # Slack: told at once by DM, and their next command says why instead of sending a link.
    dm = await app.fake.wait_for_message(
        lambda m: m.where == "dm" and m.user_id == "U0ADA" and "disabled" in m.text
    )
    assert "administrator disabled that account" in dm.text and "*ada*" in dm.text
    [answer] = await app.command("U0ADA", "whoami")
    assert "Your Acme account *ada* was disabled by an administrator" in answer.text
    assert "/acme link" in json.dumps(answer.blocks)
    with pytest.raises(AssertionError):
        find_link([answer])
    # The site: the session ended, the password no longer logs in.
    assert "You are not logged in" in (await browser.get("/")).text
    refused = await login(app.browser(), "ada")
    assert refused.status_code == 403 and "disabled by an administrator" in refused.text
    # `link` still offers one: the Slack person may connect another account, not ada.
    url = find_link(await app.command("U0ADA", "link"))
    other = app.browser()
    await other.get(urlsplit(url).path)
    assert (await login(other, "ada", next_path="/bind")).status_code == 403
    await login(other, "grace", next_path="/bind")
    page = await other.get("/bind")
    before = app.background_marks()
    done = await other.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert done.status_code == 200
    await app.after_connect(before, "U0ADA")
    [answer] = await app.command("U0ADA", "whoami")
    assert "grace" in answer.text  # bound to grace: no longer told about ada

    code, out, _ = await admin(app, "user", "enable", "ada")
    assert code == 0 and "Enabled ada" in out
    assert (await login(app.browser(), "ada")).status_code == 303
    await app.bind("ada", "U0ALAN")  # nothing binds to ada until enabled; now it does

    events = [row[0] for row in app.query("SELECT event FROM audit_events WHERE client = 'cli'")]
    assert events == ["user_disabled", "unbound", "user_enabled"]


async def test_the_confirm_page_binds_nothing_to_an_account_disabled_meanwhile(
    running_app: RunningApp,
) -> None:
    """Connect pressed as an administrator disables the account: a clear 403, nothing bound,
    and the link still works for another account."""
    app = running_app
    await app.add_user("ada")
    await app.add_user("grace")
    url = await app.link_for("U0ADA")
    browser, page = await app.open_link_as("ada", url)
    assert page.status_code == 200
    # The disable lands inside the binding's own transaction, after every earlier check: a
    # trigger on the link's consumption disables ada, as a concurrent `user disable` would.
    app.query(
        "CREATE TRIGGER disable_ada AFTER UPDATE OF used_at ON binding_requests BEGIN "
        "UPDATE users SET disabled_at = 1 WHERE username = 'ada'; END"
    )

    done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})

    assert done.status_code == 403
    assert "disabled by an administrator" in done.text and "Nothing was connected" in done.text
    assert bindings(app) == []
    app.query("DROP TRIGGER disable_ada")
    [(detail,)] = app.query("SELECT detail FROM audit_events WHERE event = 'link_refused'")
    assert detail == "account_disabled"
    other, page = await app.open_link_as("grace", url)
    connected = await other.post("/bind", data={**hidden_fields(page), "action": "connect"})
    assert connected.status_code == 200 and bindings(app) == ["U0ADA"]


async def test_remove_asks_first_and_deletes_the_account(running_app: RunningApp) -> None:
    app = running_app
    await app.bind("ada", "U0ADA")

    code, _, err = await admin(app, "user", "remove", "ada")  # no terminal, no --yes
    assert code == 1 and "--yes" in err
    assert bindings(app) == ["U0ADA"]

    code, out, err = await admin(app, "user", "remove", "ada", "--yes")

    assert code == 0 and "Removed ada" in out, err
    assert app.query("SELECT username FROM users") == []
    assert bindings(app) == []
    await app.fake.wait_for_message(
        lambda m: m.where == "dm" and m.user_id == "U0ADA" and "removed that account" in m.text
    )
    [answer] = await app.command("U0ADA", "whoami")
    assert "Your Acme account *ada* was removed by an administrator" in answer.text
    assert [row[0] for row in app.query("SELECT event FROM audit_events WHERE client = 'cli'")] == [
        "user_removed",
        "unbound",
    ]
    code, _, err = await admin(app, "user", "remove", "ada", "--yes")
    assert code == 1 and "There is no account named 'ada'" in err


async def test_a_disabled_account_is_refused_behind_a_proxy(tmp_path: Path) -> None:
    async with run_app(tmp_path, AUTH="proxy", TRUSTED_PROXIES="127.0.0.1") as app:
        browser = app.browser()
        browser.headers["X-Forwarded-User"] = "kim"
        assert (await browser.get("/login", params={"next": "/"})).status_code == 303
        assert "You are logged in as <strong>kim</strong>" in (await browser.get("/")).text
        code, _, err = await admin(app, "user", "disable", "kim")
        assert code == 0, err
        refused = await browser.get("/")
        assert refused.status_code == 403 and "disabled by an administrator" in refused.text
        [(detail,)] = app.query("SELECT detail FROM audit_events WHERE event = 'login_failed'")
        assert detail == "proxy:disabled"


async def test_the_user_list_shows_who_is_disabled(tmp_path: Path) -> None:
    code, _, err = await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    assert code == 0, err
    assert (await run_command(tmp_path, "user", "disable", "ada"))[0] == 0
    code, out, _ = await run_command(tmp_path, "user", "list")
    assert out.splitlines() == ["ada\tada@example.com\tdisabled"]
    code, out, _ = await run_command(tmp_path, "user", "disable", "ada")
    assert code == 0 and "already disabled" in out
    code, _, err = await run_command(tmp_path, "user", "enable", "nobody")
    assert code == 1 and "There is no account named 'nobody'" in err
    code, out, _ = await run_command(tmp_path, "audit", "--event", "user_disabled", "--json")
    assert [(r["user"], r["client"]) for r in json.loads(out)] == [("ada", "cli"), ("ada", "cli")]


def test_remove_at_a_terminal_asks_for_the_user_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import sys

    from launcher import cli

    monkeypatch.setenv("DATABASE", str(tmp_path / "app.sqlite3"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdin, "readline", lambda: "s3cret-password\n")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert cli.main(["user", "add", "ada", "--email", "ada@example.com"]) == 0
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["grace", "ada"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert cli.main(["user", "remove", "ada"]) == 1
    assert "Nothing removed" in capsys.readouterr().err
    assert cli.main(["user", "remove", "ada"]) == 0
    assert "Removed ada" in capsys.readouterr().out


async def test_a_session_of_an_account_disabled_behind_its_back_logs_nobody_in(
    running_app: RunningApp,
) -> None:
    """Sessions end when an account is disabled; one left over (a disable written by other
    means, a restored backup) still logs nobody in."""
    app = running_app
    await app.add_user("ada")
    browser = app.browser()
    await login(browser, "ada")
    app.query("UPDATE users SET disabled_at = 1 WHERE username = 'ada'")
    assert "You are not logged in" in (await browser.get("/")).text
    assert app.query("SELECT count(*) FROM sessions") == [(1,)]


async def test_the_stand_in_acts_for_no_disabled_account(tmp_path: Path) -> None:
    service = "service-credential-for-the-tests-0123456789"
    async with run_app(tmp_path, INTERNAL_API_TOKEN=service) as app:
        await app.add_user("ada")
        as_ada = {"Authorization": f"Bearer {service}", "Impersonate-User": "ada"}
        assert (await app.http.get("/api/me", headers=as_ada)).status_code == 200
        app.query("UPDATE users SET disabled_at = 1 WHERE username = 'ada'")
        assert (await app.http.get("/api/me", headers=as_ada)).status_code == 403


async def test_a_deactivated_grid_user_loses_the_binding_keyed_on_the_organisation(
    tmp_path: Path,
) -> None:
    async with run_app(tmp_path) as app:
        app.fake.join_org("E0ACME", "Acme")  # a workspace install in an organisation
        await app.bind("ada", "U0ADA")
        await app.bind("grace", "U0GRACE")
        event = app.fake.user_change_event("U0ADA", deleted=True)
        assert event["user"]["enterprise_user"]["enterprise_id"] == "E0ACME"
        await send_event(app.fake, event)
        await eventually(lambda: bool(audit(app, "binding_removed_by_slack")))
        assert app.query("SELECT scope_id, slack_user_id FROM bindings") == [("E0ACME", "U0GRACE")]


async def test_a_deactivated_user_loses_a_binding_made_before_their_workspace_joined_an_org(
    tmp_path: Path,
) -> None:
    """Bound in the workspace, which then joined an organisation: the binding is still keyed
    on the workspace until they run a command, and goes all the same."""
    async with run_app(tmp_path) as app:
        await app.bind("ada", "U0ADA")
        app.fake.join_org("E0ACME", "Acme")
        await send_event(app.fake, app.fake.user_change_event("U0ADA", deleted=True))
        await eventually(lambda: bool(audit(app, "binding_removed_by_slack")))
        assert bindings(app) == []


async def test_a_disabled_account_is_refused_at_the_openid_sign_in(tmp_path: Path) -> None:
    from test_sso_oidc import failures, sign_in, sso_app

    async with sso_app(tmp_path) as sso:
        assert (await sign_in(sso, sso.app.browser(), "alice")).status_code == 303
        code, _, err = await admin(sso.app, "user", "disable", "alice")
        assert code == 0, err
        refused = await sign_in(sso, sso.app.browser(), "alice")
        assert refused.status_code == 403 and "disabled by an administrator" in refused.text
        assert "Account disabled" in refused.text
        assert not refused.cookies.get("session")
        assert failures(sso.app) == ["oidc:disabled"]
