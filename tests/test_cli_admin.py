"""The administrator's commands, run as a person runs them: `binding list`, `binding remove`,
`user set-password` (and `unbind`, the old name of a removal), on a real database file."""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from conftest import RunningApp, find_link, run_app
from processes import run_command
from test_act_as_oauth2 import bind as bind_with_grant
from test_act_as_oauth2 import oauth2_app

from account_binding.accounts import AccountService
from account_binding.models import SlackIdentity, SlackProfile, User
from account_binding.sqlite_store import SQLiteStore
from launcher import cli
from launcher.admin_commands import JSON_KEYS

KEY = "x4Jq0r2mT8vLw6bN1cZs9eYh3uKd5fGa7pRt"  # 36 random characters
PASSWORD = "s3cret-password"
DAY = 86400
#: When the seeded bindings were made: Grace's a month ago, Ada's today.
NOW = int(time.time())


async def seed(database: Path) -> None:
    """Ada bound from two places (T0ACME/U0ADA, and W0ADA in the organisation E0ORG through
    its workspace T0ONE), Grace bound a month ago from T0ACME and used since, and Bob with
    no binding; U0ADA is also bound in another workspace, T0OTHER, to Grace."""
    store = SQLiteStore(database)
    await store.open()
    try:
        accounts = AccountService(store)
        ada = await accounts.add_user("ada", "ada@example.com", PASSWORD)
        grace = await accounts.add_user("grace", "grace@example.com", PASSWORD)
        await accounts.add_user("bob", "bob@example.com", PASSWORD)
        await _bind(store, grace, ("T0ACME", "U0GRACE", None), "Grace Hopper", NOW - 30 * DAY)
        await _bind(store, ada, ("T0ACME", "U0ADA", None), "Ada Lovelace", NOW - 60)
        await _bind(store, ada, ("T0ONE", "W0ADA", "E0ORG"), "Ada L.", NOW - 30)
        await _bind(store, grace, ("T0OTHER", "U0ADA", None), "Not Ada", NOW - 20)
    finally:
        await store.close()
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE bindings SET last_used_at = ? WHERE slack_user_id = 'U0GRACE'", [NOW - DAY]
        )


async def _bind(
    store: SQLiteStore, user: User, ids: tuple[str, str, str | None], name: str, at: int
) -> None:
    team, slack_user, enterprise = ids
    identity = SlackIdentity.from_ids(team_id=team, user_id=slack_user, enterprise_id=enterprise)
    nonce = f"{team}-{slack_user}"
    profile = SlackProfile(user_name=slack_user.lower(), team_name=team.lower(), real_name=name)
    await store.add_binding_request(nonce, identity, profile, at, at + 600)
    await store.complete_binding(nonce, user.id, at, f"hash-{nonce}", "ciphertext", real_name=name)


def bindings(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT scope_id, slack_user_id FROM bindings ORDER BY id").fetchall()


def outbox(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT kind, slack_user_id FROM outbox ORDER BY id").fetchall()


def revoked(database: Path) -> int:
    with sqlite3.connect(database) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL"
        ).fetchone()
        return int(count)


async def listing(tmp_path: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = await run_command(tmp_path, "binding", "list", "--json", *args)
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list)
    return rows


async def audit(tmp_path: Path, event: str) -> list[dict[str, object]]:
    code, out, err = await run_command(tmp_path, "audit", "--event", event, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list)
    return rows


async def home_tab_says(app: RunningApp, user_id: str, text: str) -> bool:
    """Whether `user_id`'s published Home tab comes to hold `text` within 10 seconds (the
    app redraws it after a bind, in the background)."""
    for _ in range(200):
        if text in json.dumps(app.fake.home_view(user_id) or {}):
            return True
        await asyncio.sleep(0.05)
    return False


# binding list


async def test_binding_list_prints_every_binding_as_a_table_or_json(tmp_path: Path) -> None:
    await seed(tmp_path / "app.sqlite3")
    code, out, err = await run_command(tmp_path, "binding", "list")
    assert code == 0 and "Traceback" not in err, err
    header, *lines = out.splitlines()
    assert header.split() == [
        "ID", "USER", "SLACK", "SLACK", "NAME", "WORKSPACE", "BOUND", "LAST", "USED", "CREDENTIAL"
    ]  # fmt: skip
    assert [line.split()[1:3] for line in lines] == [
        ["grace", "T0ACME/U0GRACE"],
        ["ada", "T0ACME/U0ADA"],
        ["ada", "E0ORG/W0ADA"],
        ["grace", "T0OTHER/U0ADA"],
    ]
    assert "Grace Hopper" in lines[0] and "never" not in lines[0] and "never" in lines[1]

    rows = await listing(tmp_path)
    assert [list(row) for row in rows] == [list(JSON_KEYS)] * 4  # the documented keys, in order
    # The ID is the binding's public ID, never reused, as the table shows it too.
    assert [line.split()[0] for line in lines] == [row["id"] for row in rows]
    assert all(re.fullmatch(r"[0-9a-f]{32}", str(row["id"])) for row in rows)
    grid = rows[2]
    assert grid == {
        "id": grid["id"],
        "username": "ada",
        "slack_user_id": "W0ADA",
        "team_id": "T0ONE",
        "enterprise_id": "E0ORG",
        "workspace_name": "t0one",
        "slack_name": "Ada L.",
        "bound_at": grid["bound_at"],
        "last_used_at": None,
        "credential": "token",
    }
    assert str(rows[0]["bound_at"]).endswith("+00:00")  # ISO 8601, UTC
    assert rows[0]["last_used_at"] is not None and str(rows[0]["last_used_at"]).endswith("+00:00")
    assert not (tmp_path / "app.sqlite3.secret-key").exists()  # listing needs no key


async def test_binding_list_filters(tmp_path: Path) -> None:
    await seed(tmp_path / "app.sqlite3")

    async def slack(*args: str) -> list[str]:
        return [
            f"{row['username']}:{row['slack_user_id']}" for row in await listing(tmp_path, *args)
        ]

    assert await slack("--user", "ADA") == ["ada:U0ADA", "ada:W0ADA"]  # as logins normalise
    assert await slack("--slack-user", "U0ADA") == ["ada:U0ADA", "grace:U0ADA"]
    assert await slack("--slack-user", "T0OTHER/U0ADA") == ["grace:U0ADA"]
    assert await slack("--workspace", "E0ORG") == ["ada:W0ADA"]  # the organisation
    assert await slack("--workspace", "T0ONE") == ["ada:W0ADA"]  # or its workspace
    assert await slack("--workspace", "T0ACME", "--user", "grace") == ["grace:U0GRACE"]
    assert await slack("--since", "1d") == ["ada:U0ADA", "ada:W0ADA", "grace:U0ADA"]
    assert await slack("--user", "bob") == []
    code, out, _ = await run_command(tmp_path, "binding", "list", "--user", "bob")
    assert code == 0 and out == "No bindings match.\n"
    # No such account: said, as `binding remove --user` says it.
    code, out, err = await run_command(tmp_path, "binding", "list", "--user", "nobody")
    assert code == 1 and out == "" and "There is no account named 'nobody'." in err, err
    for bad in (
        ("--slack-user", "u0ada;--"),
        ("--workspace", "T0 ACME"),
        ("--workspace", "U0ADA"),  # a user, not a workspace (T…) or organisation (E…)
        ("--workspace", "t0acme"),
        ("--slack-user", "U0ADA/U0ADA"),
        ("--since", "soon"),
    ):
        code, _, err = await run_command(tmp_path, "binding", "list", *bad)
        assert code == 2 and "Traceback" not in err and bad[0] in err, err
    code, _, err = await run_command(
        tmp_path, "binding", "list", "--slack-user", "T0ACME/U0ADA", "--workspace", "T0OTHER"
    )
    assert code == 2 and "--slack-user says T0ACME, --workspace T0OTHER" in err, err


async def test_binding_list_shows_names_from_slack_safe_for_a_terminal(tmp_path: Path) -> None:
    """A Slack person chooses their name: one holding a terminal escape sequence (ESC ] 0;
    sets the terminal's title; others move the cursor or rewrite lines) or a right-to-left
    override is printed escaped, never as the raw characters."""
    database = tmp_path / "app.sqlite3"
    store = SQLiteStore(database)
    await store.open()
    try:
        eve = await AccountService(store).add_user("eve", "eve@example.com", PASSWORD)
        await _bind(store, eve, ("T0ACME", "U0EVE", None), "Eve\x1b]0;owned\x07\u202eeve", NOW)
    finally:
        await store.close()
    code, out, err = await run_command(tmp_path, "binding", "list")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "Eve\\u001b]0;owned\\u0007\\u202eeve" in out
    code, out, err = await run_command(tmp_path, "binding", "list", "--json")
    assert "\x1b" not in out and json.loads(out)[0]["slack_name"] == "Eve\x1b]0;owned\x07\u202eeve"


async def test_binding_list_never_makes_a_database(tmp_path: Path) -> None:
    code, out, err = await run_command(tmp_path, "binding", "list")
    assert code == 1 and out == "" and "there is no database" in err, err
    assert list(tmp_path.iterdir()) == []


# binding remove


async def test_binding_remove_by_id_slack_user_or_user_revokes_and_audits(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    await seed(database)
    [grace_acme] = await listing(tmp_path, "--slack-user", "U0GRACE")

    code, out, err = await run_command(
        tmp_path, "binding", "remove", "--id", str(grace_acme["id"]), "--yes", SECRET_KEY=KEY
    )
    assert code == 0 and "Traceback" not in err, err
    assert f"Removed binding {grace_acme['id']} of T0ACME/U0GRACE, bound to grace, and" in out
    assert "No Slack tokens are set here, so the running app tells the Slack person" in out
    assert outbox(database) == [("removed_by_admin", "U0GRACE")]  # the running app sends it
    assert ("T0ACME", "U0GRACE") not in bindings(database) and revoked(database) == 1

    code, out, err = await run_command(
        tmp_path,
        "binding", "remove", "--slack-user", "U0ADA", "--workspace", "T0OTHER", "--yes",
        SECRET_KEY=KEY,
    )  # fmt: skip
    assert code == 0 and "of T0OTHER/U0ADA, bound to grace, and" in out, err
    assert bindings(database) == [("T0ACME", "U0ADA"), ("E0ORG", "W0ADA")]

    code, out, err = await run_command(
        tmp_path, "binding", "remove", "--user", "Ada", "--yes", SECRET_KEY=KEY
    )
    assert code == 0 and out.count("Removed binding") == 2, err
    assert bindings(database) == [] and revoked(database) == 4

    unbound = await audit(tmp_path, "unbound")
    assert sorted((row["user"], row["slack_scope"], row["slack_user"]) for row in unbound) == [
        ("ada", "E0ORG", "W0ADA"),
        ("ada", "T0ACME", "U0ADA"),
        ("grace", "T0ACME", "U0GRACE"),
        ("grace", "T0OTHER", "U0ADA"),
    ]
    assert {row["client"] for row in unbound} == {"cli"}


async def test_binding_remove_refuses_clearly_and_removes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    await seed(database)
    before = bindings(database)
    for args, code, message in (
        (("--id", "0" * 32), 1, f"No binding matches the ID {'0' * 32}."),
        (("--slack-user", "U0ADA"), 1, "U0ADA is bound in 2 workspaces (T0ACME, T0OTHER): add --workspace"),
        (("--slack-user", "U0NOBODY"), 1, "No binding matches the Slack user U0NOBODY."),
        (("--slack-user", "U0ADA", "--workspace", "T0NONE"), 1, "the Slack user U0ADA in T0NONE"),
        (("--slack-user", "T0ACME/U0ADA", "--workspace", "T0OTHER"), 2, "--slack-user says T0ACME"),
        (("--user", "nobody"), 1, "There is no account named 'nobody'."),
        (("--user", "bob"), 1, "No binding matches the user bob (they have none)."),
        (("--user", "ada", "--workspace", "T0ACME"), 2, "--workspace goes with --slack-user"),
        (("--id", "0" * 32, "--workspace", "T0ACME"), 2, "--workspace goes with --slack-user"),
        ((), 2, "one of the arguments --id --slack-user --user is required"),
        (("--id", "0" * 32, "--user", "ada"), 2, "not allowed with argument"),
        (("--id", "1"), 2, "argument --id"),  # the database's row number is not an ID
        (("--id", "9" * 5000), 2, "argument --id"),
        (("--slack-user", "U0ADA", "--workspace", "W0ADA"), 2, "argument --workspace"),
        (("--slack-user", "../U0ADA"), 2, "argument --slack-user"),
        # stdin is not a terminal here, and no --yes: nothing is removed unasked.
        (("--slack-user", "T0ACME/U0ADA"), 1, "stdin is not a terminal; add --yes"),
    ):  # fmt: skip
        yes = () if "stdin is not" in message or code == 2 else ("--yes",)
        status, _, err = await run_command(
            tmp_path, "binding", "remove", *args, *yes, SECRET_KEY=KEY
        )
        assert status == code and message in err and "Traceback" not in err, (args, err)
    assert bindings(database) == before and revoked(database) == 0
    assert await audit(tmp_path, "unbound") == []


def test_binding_remove_asks_at_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    database = tmp_path / "app.sqlite3"
    asyncio.run(seed(database))
    monkeypatch.setenv("DATABASE", str(database))
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    asked: list[str] = []
    for answer, removed in (("", False), ("n", False), ("yes please", False), ("Y", True)):
        monkeypatch.setattr(builtins, "input", lambda q, a=answer: asked.append(q) or a)
        code = cli.main(["binding", "remove", "--slack-user", "U0GRACE"])
        printed = capsys.readouterr()
        assert code == (0 if removed else 1), printed.err
        assert ("T0ACME", "U0GRACE") in bindings(database) or removed
        assert "T0ACME/U0GRACE" in printed.out  # shown before the question
    assert asked == ["Remove this binding? [y/N] "] * 4
    assert ("T0ACME", "U0GRACE") not in bindings(database)

    def ctrl_d(question: str) -> str:
        raise EOFError

    monkeypatch.setattr(builtins, "input", ctrl_d)
    assert cli.main(["binding", "remove", "--user", "ada"]) == 1
    assert "account-binding: Nothing removed." in capsys.readouterr().err
    assert len(bindings(database)) == 3


async def test_an_id_from_an_old_listing_never_removes_a_newer_binding(tmp_path: Path) -> None:
    """SQLite gives the newest row's number again once it is deleted: an administrator acting
    on an old listing must not remove the binding made since under that number."""
    database = tmp_path / "app.sqlite3"
    await seed(database)
    [*_, newest] = await listing(tmp_path)
    with sqlite3.connect(database) as db:
        (row_number,) = db.execute("SELECT max(id) FROM bindings").fetchone()
    code, _, err = await run_command(
        tmp_path, "binding", "remove", "--id", str(newest["id"]), "--yes", SECRET_KEY=KEY
    )
    assert code == 0, err
    store = SQLiteStore(database)
    await store.open()
    try:
        bob = await AccountService(store).find("bob")
        assert bob is not None
        await _bind(store, bob, ("T0ACME", "U0BOB", None), "Bob", NOW)
    finally:
        await store.close()
    with sqlite3.connect(database) as db:  # the same row number, for Bob's binding
        assert db.execute("SELECT max(id) FROM bindings").fetchone() == (row_number,)
    code, _, err = await run_command(
        tmp_path, "binding", "remove", "--id", str(newest["id"]), "--yes", SECRET_KEY=KEY
    )
    assert code == 1 and f"No binding matches the ID {newest['id']}." in err, err
    assert ("T0ACME", "U0BOB") in bindings(database)


def test_declining_either_removal_is_nothing_removed_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`binding remove` answered N and `user remove` with the name mistyped: the same."""
    database = tmp_path / "app.sqlite3"
    asyncio.run(seed(database))
    monkeypatch.setenv("DATABASE", str(database))
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    for answer, args in (
        ("n", ["binding", "remove", "--user", "ada"]),
        ("adaa", ["user", "remove", "ada"]),
    ):
        monkeypatch.setattr(builtins, "input", lambda q, a=answer: a)
        assert cli.main(args) == 1
        assert "account-binding: Nothing removed" in capsys.readouterr().err
    assert len(bindings(database)) == 4


async def test_binding_remove_tells_the_slack_person_and_they_can_bind_again(
    tmp_path: Path,
) -> None:
    """End to end: bound through the real app over Socket Mode; the command line, pointed
    at the same Slack, removes the binding, revokes its token and DMs the person; their next
    command in Slack gets a link again."""
    async with run_app(tmp_path) as app:
        await app.bind("ada", "U0ADA")
        slack = {
            "SLACK_BOT_TOKEN": "xoxb-test-bot-token",
            "SLACK_APP_TOKEN": "xapp-test-app-token",
            "SLACK_API_URL": app.fake.api_url,
            "SECRET_KEY": app.settings.secret_key(),
        }
        [row] = await listing(tmp_path)
        assert (row["username"], row["slack_user_id"], row["team_id"]) == (
            "ada",
            "U0ADA",
            "T0SANDBOX",
        )
        assert await home_tab_says(app, "U0ADA", "is connected to Acme as *ada*")
        before = len(app.fake.state.messages)
        code, out, err = await run_command(
            tmp_path, "binding", "remove", "--slack-user", "U0ADA", "--yes", **slack
        )
        assert code == 0 and "Told U0ADA by DM." in out, err
        dm = await app.fake.wait_for_message(lambda m: m.where == "dm", after=before)
        assert dm.user_id == "U0ADA"
        assert "An administrator disconnected your Slack account from Acme" in dm.text
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]
        assert app.query("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL") == [(0,)]
        # The command redrew their Home tab before it ended, as the app does after an unlink.
        assert "is not connected to your Acme account" in json.dumps(app.fake.home_view("U0ADA"))
        messages = await app.command("U0ADA", "whoami")
        assert find_link(messages)  # not bound any more: a fresh link
        await app.bind("ada", "U0ADA")  # and binding again works
        assert app.query("SELECT count(*) FROM bindings") == [(1,)]


async def test_a_removal_that_slack_refuses_to_tell_still_stands(tmp_path: Path) -> None:
    async with run_app(tmp_path) as app:
        await app.bind("ada", "U0ADA")
        code, out, err = await run_command(
            tmp_path,
            "binding", "remove", "--user", "ada", "--yes",
            SLACK_BOT_TOKEN="xoxb-revoked", SLACK_APP_TOKEN="xapp-test-app-token",
            SLACK_API_URL=app.fake.api_url, SECRET_KEY=app.settings.secret_key(),
        )  # fmt: skip
        assert code == 0 and "Could not tell U0ADA by DM" in out, err
        assert "Removed binding" in out and "Traceback" not in err
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]


async def test_a_removals_dm_slack_cannot_take_now_waits_in_the_outbox(tmp_path: Path) -> None:
    """Issue 11: the DM is written to the outbox in the removal's own transaction, so Slack
    failing now (an outage) loses nothing: the row stays for the running app to retry, and
    the administrator is told so."""
    async with run_app(tmp_path) as app:
        await app.bind("ada", "U0ADA")
        app.fake.fail("chat.postMessage", "service_unavailable", times=1000, status=503)
        code, out, err = await run_command(
            tmp_path,
            "binding", "remove", "--slack-user", "U0ADA", "--yes",
            SLACK_BOT_TOKEN="xoxb-test-bot-token", SLACK_APP_TOKEN="xapp-test-app-token",
            SLACK_API_URL=app.fake.api_url, SECRET_KEY=app.settings.secret_key(),
        )  # fmt: skip
        assert code == 0 and "Traceback" not in err, err
        assert "Could not tell U0ADA by DM now" in out and "the running app tries again" in out
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]
        [(kind, slack_user_id, facts)] = app.query("SELECT kind, slack_user_id, facts FROM outbox")
        assert (kind, slack_user_id) == ("removed_by_admin", "U0ADA")
        assert json.loads(facts) == {"username": "ada"}


async def test_binding_remove_revokes_the_oauth_grant_at_the_provider(tmp_path: Path) -> None:
    async with oauth2_app(tmp_path) as setup:
        await bind_with_grant(setup, "ada", "U0ADA")
        access, refresh = setup.tokens("U0ADA")
        settings = setup.app.settings
        assert settings.oauth2_client_id and settings.oauth2_client_secret
        code, out, err = await run_command(
            tmp_path,
            "binding", "remove", "--user", "ada", "--yes",
            DATABASE=str(settings.database), SECRET_KEY=settings.secret_key(), ACT_AS="oauth2",
            OAUTH2_ISSUER=setup.provider.issuer, OAUTH2_CLIENT_ID=setup.provider.client_id,
            OAUTH2_CLIENT_SECRET=setup.provider.client_secret,
        )  # fmt: skip
        assert code == 0, err
        assert not setup.app.query("SELECT * FROM oauth_grants")
        assert setup.introspect(refresh)["active"] is False
        assert setup.introspect(access)["active"] is False
        assert access not in out + err and refresh not in out + err


async def test_unbind_still_works_and_says_it_is_deprecated(tmp_path: Path) -> None:
    await seed(tmp_path / "app.sqlite3")
    code, out, err = await run_command(tmp_path, "unbind", "E0ORG/W0ADA", SECRET_KEY=KEY)
    assert code == 0 and "Removed the binding of E0ORG/W0ADA" in out, err
    assert (
        "`unbind` is deprecated; use `binding remove --slack-user W0ADA --workspace E0ORG`" in err
    )
    assert ("E0ORG", "W0ADA") not in bindings(tmp_path / "app.sqlite3")


# user set-password


async def test_set_password_reads_stdin_ends_sessions_and_is_audited(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    await seed(database)
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at) "
            "SELECT 'session-of-ada', id, 'csrf', ?, ? FROM users WHERE username = 'ada'",
            [NOW, NOW],
        )
    code, out, err = await run_command(
        tmp_path, "user", "set-password", "Ada", stdin="n3w-correct-horse\n"
    )
    assert code == 0 and out == "Set the password of ada and ended their sessions.\n", err
    store = SQLiteStore(database)
    await store.open()
    try:
        accounts = AccountService(store)
        assert await accounts.authenticate("ada", "n3w-correct-horse") is not None
        assert await accounts.authenticate("ada", PASSWORD) is None
        assert await accounts.authenticate("grace", PASSWORD) is not None  # nobody else's
    finally:
        await store.close()
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    [row] = await audit(tmp_path, "password_set")
    assert (row["user"], row["client"], row["detail"]) == ("ada", "cli", "cli")


async def test_set_password_refuses_clearly(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    await seed(database)
    store = SQLiteStore(database)
    await store.open()
    try:
        await store.create_external_user(
            "kate", "kate@example.com", "https://sso.example", "sub-kate", NOW
        )
    finally:
        await store.close()
    for name, stdin, message in (
        ("kate", "n3w-correct-horse\n", "kate signs in through single sign-on and has no password here"),
        ("nobody", "n3w-correct-horse\n", "There is no account named 'nobody'."),
        ("ada", "short\n", "A password needs at least 8 characters."),
        ("ada", "", "No password on stdin"),
    ):  # fmt: skip
        code, _, err = await run_command(tmp_path, "user", "set-password", name, stdin=stdin)
        assert code == 1 and message in err and "Traceback" not in err, (name, err)
        assert len(err.strip().splitlines()) == 2  # the database used, and the refusal
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT password_hash FROM users WHERE username = 'kate'").fetchone() == (
            "!",
        )
    assert await audit(tmp_path, "password_set") == []
    code, _, err = await run_command(tmp_path, "user", "set-password", "ada", stdin="")
    assert "account-binding user set-password NAME" in err  # the example fits the command


def test_set_password_at_a_terminal_asks_twice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import getpass

    database = tmp_path / "app.sqlite3"
    asyncio.run(seed(database))
    monkeypatch.setenv("DATABASE", str(database))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    typed = iter(["n3w-correct-horse", "n3w-correct-hors"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))
    assert cli.main(["user", "set-password", "ada"]) == 1
    assert "The passwords do not match." in capsys.readouterr().err
    typed = iter(["n3w-correct-horse", "n3w-correct-horse"])
    assert cli.main(["user", "set-password", "ada"]) == 0
    assert "Set the password of ada" in capsys.readouterr().out


async def test_an_app_running_meanwhile_sees_the_new_password(running_app: RunningApp) -> None:
    """The command writes the database the running site reads: the old password stops
    working at once."""
    await running_app.add_user("ada")
    code, _, err = await run_command(
        running_app.settings.database.parent,
        "user", "set-password", "ada",
        stdin="n3w-correct-horse\n", DATABASE=str(running_app.settings.database),
    )  # fmt: skip
    assert code == 0, err
    accounts = AccountService(running_app.store)
    assert await accounts.authenticate("ada", "n3w-correct-horse") is not None
