"""The `account-binding` command, run as a person runs it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sqlite3
import stat
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import find_link, hidden_fields, login
from processes import AppProcess, free_port, run_command

from fake_slack import FakeSlack

KEY = "x4Jq0r2mT8vLw6bN1cZs9eYh3uKd5fGa7pRt"  # 36 random characters


async def test_user_add_reads_the_password_from_stdin_and_user_list_shows_it(
    tmp_path: Path,
) -> None:
    code, out, err = await run_command(
        tmp_path, "user", "add", "Ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    assert code == 0, err
    assert err == f"account-binding: database {tmp_path / 'app.sqlite3'}\n"
    assert "Added user ada" in out
    code, out, _ = await run_command(tmp_path, "user", "list")
    assert code == 0 and "ada\tada@example.com" in out


async def test_user_add_refuses_bad_details_in_one_line(tmp_path: Path) -> None:
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    for args, stdin, message in (
        (("ada", "--email", "x@example.com"), "s3cret-password\n", "already exists"),
        (("bob", "--email", "x@example.com"), "short\n", "at least 8 characters"),
        (("bob", "--email", "not-an-email"), "s3cret-password\n", "is not an email address"),
        (("bad name!", "--email", "x@example.com"), "s3cret-password\n", "A user name is"),
    ):
        code, _, err = await run_command(tmp_path, "user", "add", *args, stdin=stdin)
        assert code == 1 and message in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 2  # the database used, and the refusal


async def test_a_bad_setting_stops_the_start_with_one_line(tmp_path: Path) -> None:
    code, _, err = await run_command(tmp_path, "run", PORT="http", SECRET_KEY=KEY)
    assert code == 2
    assert err.strip() == "account-binding: PORT must be a whole number, not 'http'"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"PORT": "0"}, "PORT must be between 1 and 65535, not 0"),
        ({"HOST": "0.0.0.0"}, "HOST=0.0.0.0 listens on every address"),
        ({"PUBLIC_URL": "http://intranet.example/binding"}, "PUBLIC_URL must be the root"),
        ({"SECRET_KEY": "short"}, "print(secrets.token_urlsafe(32))"),
    ],
)
async def test_settings_that_make_links_nobody_can_open_stop_the_start(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    code, out, err = await run_command(tmp_path, "run", **{"SECRET_KEY": KEY, **settings})
    assert code == 2 and out == "", out
    assert err.count("\n") == 1 and message in err and err.startswith("account-binding: ")
    assert not (tmp_path / "app.sqlite3").exists()


async def test_a_refused_slack_token_stops_the_start_with_one_line(tmp_path: Path) -> None:
    fake = FakeSlack(bot_token="xoxb-right", app_token="xapp-right")
    await fake.start()
    try:
        code, _, err = await run_command(
            tmp_path,
            "run",
            SECRET_KEY=KEY,
            SLACK_BOT_TOKEN="xoxb-wrong",
            SLACK_APP_TOKEN="xapp-right",
            SLACK_API_URL=fake.api_url,
        )
        assert code == 1 and "Slack refused SLACK_BOT_TOKEN: invalid_auth" in err
        assert "Traceback" not in err
        code, _, err = await run_command(
            tmp_path,
            "run",
            SECRET_KEY=KEY,
            SLACK_BOT_TOKEN="xoxb-right",
            SLACK_APP_TOKEN="xapp-wrong",
            SLACK_API_URL=fake.api_url,
        )
        assert code == 1 and "Slack refused SLACK_APP_TOKEN: invalid_auth" in err
    finally:
        await fake.stop()


async def test_run_binds_a_user_added_with_the_cli_against_a_slack_at_slack_api_url(
    tmp_path: Path,
) -> None:
    """The deployed shape: tokens set, Slack reached through SLACK_API_URL, a user from `user add`."""
    fake = FakeSlack(bot_token="xoxb-deployed", app_token="xapp-deployed")
    await fake.start()
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    app = AppProcess(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-deployed",
        SLACK_APP_TOKEN="xapp-deployed",
        SLACK_API_URL=fake.api_url,
        INTERNAL_APP_NAME="Intranet",
    )
    try:
        await app.start()
        await fake.wait_connected()
        assert "SECRET_KEY is not set" in app.output  # generated and kept beside the database
        assert (tmp_path / "app.sqlite3.secret-key").is_file()

        outcome = await fake.send_slash_command("U0ADA", "whoami")
        assert outcome.acked and outcome.ack_payload
        url = find_link(fake.ephemerals("U0ADA"))
        assert url.startswith(f"http://localhost:{app.port}/bind/")
        async with httpx.AsyncClient(
            base_url=app.base_url,
            trust_env=False,
            headers={"Origin": f"http://localhost:{app.port}"},
        ) as browser:
            assert (await browser.get(urlsplit(url).path)).status_code == 303
            await login(browser, "ada", "s3cret-password", next_path="/bind")
            page = await browser.get("/bind")
            assert "Intranet" in page.text
            done = await browser.post("/bind", data={**hidden_fields(page), "action": "connect"})
            assert done.status_code == 200
        dm = await fake.wait_for_message(lambda m: m.where == "dm")
        assert dm.user_id == "U0ADA" and "Intranet" in dm.text
        outcome = await fake.send_slash_command("U0ADA", "whoami")  # from the binding, at once
        assert outcome.ack_payload and "ada" in outcome.ack_payload["text"]
        await fake.send_slash_command("U0ADA", "todo")  # through the stand-in's API
        answer = await fake.wait_for_message(lambda m: m.source == "response_url")
        assert "no to-do items in Intranet" in answer.text
        assert not re.search(r"/bind/[A-Za-z0-9_-]{20,}", app.output)  # no live link in the logs
    finally:
        code = await app.stop()
        await fake.stop()
    # A stop on SIGTERM is graceful and ends with exit status 0 (issue 11, shutdown).
    assert code == 0, app.output
    assert "Application shutdown complete" in app.output
    assert "Traceback" not in app.output


async def test_a_port_in_use_stops_the_start_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await run_command(tmp_path, "run", PORT=str(port), SECRET_KEY=KEY)
    assert code == 1
    assert (
        f"Cannot listen on 127.0.0.1 port {port}: Address already in use; set HOST or PORT" in err
    )
    assert "Traceback" not in err


# Row 16-17: which database, and one line when it cannot be used


async def test_every_command_says_which_database_it_uses(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    for args in (("user", "list"), ("audit",), ("user", "add", "x", "--email", "bad")):
        _, _, err = await run_command(tmp_path, *args, stdin="s3cret-password\n")
        assert err.splitlines()[0] == f"account-binding: database {database}", (args, err)


async def test_read_only_commands_never_make_a_database(tmp_path: Path) -> None:
    """The issue's input: `user list` in an empty directory made a new database there."""
    for args in (("user", "list"), ("audit",), ("audit", "--json")):
        code, out, err = await run_command(tmp_path, *args)
        assert code == 1 and out == "", (args, out)
        assert f"there is no database at {tmp_path / 'app.sqlite3'} yet" in err, err
        assert "DATABASE" in err and "Traceback" not in err
        assert list(tmp_path.iterdir()) == [], args


def _unwritable(tmp_path: Path) -> list[tuple[str, str]]:
    """DATABASE paths this user cannot write, each with the reason the line must give.
    Root writes anywhere it may, so besides a read-only directory (for others) these use
    places no one can write: under a regular file, and sysfs."""
    (tmp_path / "a-file").write_text("")
    cases = [(str(tmp_path / "a-file" / "app.sqlite3"), "is not a directory")]
    if Path("/sys/kernel").is_dir():
        cases.append(("/sys/account-binding-test/app.sqlite3", ""))
    if os.geteuid() != 0:
        locked = tmp_path / "read-only"
        locked.mkdir(mode=0o500)
        cases.append((str(locked / "app.sqlite3"), "Permission denied"))
    return cases


async def test_an_unwritable_database_is_one_line_for_run_and_every_command(
    tmp_path: Path,
) -> None:
    """The issue's input: a DATABASE in a read-only directory printed a 25-line traceback."""
    for database, reason in _unwritable(tmp_path):
        for args in (("run",), ("user", "add", "ada", "--email", "ada@example.com")):
            code, _, err = await run_command(
                tmp_path, *args, DATABASE=database, SECRET_KEY=KEY, stdin="s3cret-password\n"
            )
            lines = err.strip().splitlines()
            assert code == 1 and "Traceback" not in err, err
            assert lines[0] == f"account-binding: database {database}"
            assert len(lines) == 2 and lines[1].startswith(
                f"account-binding: Cannot use DATABASE {database}: "
            ), err
            assert reason in lines[1], err


async def test_a_file_that_is_not_a_database_is_one_line_and_left_untouched(
    tmp_path: Path,
) -> None:
    """DATABASE=/etc/passwd once made `run` chmod that file to 600 and `user list` make a
    journal beside a device: a file that is not a database is refused before anything
    touches it, whatever its mode, through a link too."""
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"not a database" * 200)
    notes.chmod(0o644)
    (tmp_path / "link-to-notes").symlink_to(notes)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o666)
    lookalike = tmp_path / "lookalike"  # starts like a SQLite file, is not one
    lookalike.write_bytes(b"SQLite format 3\x00" + bytes(200))
    lookalike.chmod(0o640)
    for database in (notes, tmp_path / "link-to-notes", fifo, lookalike):
        for args in (("run",), ("user", "list"), ("audit",)):
            code, _, err = await run_command(
                tmp_path, *args, SECRET_KEY=KEY, DATABASE=str(database)
            )
            assert code == 1 and "Traceback" not in err, err
            assert "Cannot use DATABASE" in err and "not a" in err, err
    assert stat.S_IMODE(notes.stat().st_mode) == 0o644
    assert stat.S_IMODE(lookalike.stat().st_mode) == 0o640
    assert stat.S_IMODE(fifo.stat().st_mode) == 0o666 & ~current_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fifo",
        "link-to-notes",
        "lookalike",
        "notes.txt",
    ]


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Row 20: user add


async def test_user_add_without_a_password_says_it_is_missing(tmp_path: Path) -> None:
    """The issue's input: `user add ... </dev/null` said the password was too short."""
    for stdin in ("", "\n"):
        code, _, err = await run_command(
            tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin=stdin
        )
        assert code == 1 and "No password on stdin" in err and "at least" not in err, err
    assert not (tmp_path / "app.sqlite3").exists()


async def test_user_add_refuses_an_email_another_account_has(tmp_path: Path) -> None:
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    code, _, err = await run_command(
        tmp_path, "user", "add", "eve", "--email", "ADA@example.com", stdin="s3cret-password\n"
    )
    assert code == 1 and "Another account already has the email address" in err, err
    code, out, _ = await run_command(tmp_path, "user", "list")
    assert out == "ada\tada@example.com\n"


async def test_user_add_is_audited(tmp_path: Path) -> None:
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    code, out, err = await run_command(tmp_path, "audit", "--event", "user_added", "--json")
    assert code == 0, err
    [row] = json.loads(out)
    assert (row["event"], row["user"], row["detail"]) == ("user_added", "ada", "cli")


async def test_audit_takes_any_duration_without_a_traceback(tmp_path: Path) -> None:
    """Numbers too large for SQLite (or for Python's int parsing) are a one-line usage error
    or simply "everything", never a traceback."""
    await run_command(
        tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="s3cret-password\n"
    )
    for since in ("999999999999d", "00000000000000000001d"):
        code, out, err = await run_command(tmp_path, "audit", "--since", since, "--json")
        assert code == 0 and len(json.loads(out)) == 1, err
    for since in ("99999999999999999999d", "9" * 5000 + "s"):
        code, out, err = await run_command(tmp_path, "audit", "--since", since)
        assert code == 2 and "Traceback" not in err, err
        assert (
            err.strip()
            .splitlines()[-1]
            .startswith("account-binding audit: error: argument --since")
        )
    code, _, err = await run_command(tmp_path, "audit", "--limit", "9" * 5000)
    assert code == 2 and "Traceback" not in err, err


async def test_version(tmp_path: Path) -> None:
    code, out, _ = await run_command(tmp_path, "--version")
    assert code == 0 and re.fullmatch(r"account-binding \S+\n", out), out
    assert not (tmp_path / "app.sqlite3").exists()


# Row 7: start-up races


async def test_run_and_user_add_at_the_same_moment_on_a_fresh_database(tmp_path: Path) -> None:
    """The issue's input: `run` and `user add` started together on a new DATABASE; about one
    try in five died with "database is locked". Repeated, each on a fresh file, with three
    `user add`s beside the `run` to make the moment more crowded."""
    names = ("ada", "bob", "cy")
    for round_ in range(5):
        here = tmp_path / f"round-{round_}"
        here.mkdir()
        app = AppProcess(here, SECRET_KEY=KEY, SANDBOX_PORT=str(free_port()))
        try:
            _, *added = await asyncio.gather(
                app.start(),
                *(
                    run_command(
                        here,
                        "user",
                        "add",
                        name,
                        "--email",
                        f"{name}@example.com",
                        stdin="s3cret-password\n",
                    )
                    for name in names
                ),
            )
        finally:
            await app.stop()
        for code, _, err in added:
            assert code == 0 and "Traceback" not in err, err
        assert "Traceback" not in app.output, app.output
        code, out, _ = await run_command(here, "user", "list")
        assert code == 0 and all(f"{name}\t" in out for name in (*names, "demo")), out


async def test_an_unsafe_key_file_stops_run_with_one_line(tmp_path: Path) -> None:
    """The issue's input: a dangling symlink at the key path; the key was written through it."""
    target = tmp_path / "elsewhere"
    (tmp_path / "app.sqlite3.secret-key").symlink_to(target)
    code, out, err = await run_command(tmp_path, "run")
    lines = err.strip().splitlines()
    assert code == 2 and "Sandbox mode" not in out and "Traceback" not in err, err
    assert lines[-1].startswith(
        f"account-binding: The SECRET_KEY file {tmp_path / 'app.sqlite3.secret-key'} is a "
        "symbolic link"
    ), err
    assert not target.exists()


async def test_audit_takes_a_slack_user_as_its_listing_prints_it(tmp_path: Path) -> None:
    """The listing prints `slack=T…/U…`; that same text, or the user ID alone, filters."""
    from account_binding.sqlite_store import SQLiteStore
    from account_binding.store import AuditRecord

    store = SQLiteStore(tmp_path / "app.sqlite3")
    await store.open()
    try:
        for scope in ("T1", "T2"):
            await store.add_audit(
                AuditRecord(0, 1_700_000_000, "link_issued", None, None, scope, "U1", None, None)
            )
    finally:
        await store.close()
    code, out, err = await run_command(tmp_path, "audit")
    assert code == 0 and "slack=T1/U1" in out and "slack=T2/U1" in out, err
    for wanted, scopes in (("T1/U1", ["T1"]), ("U1", ["T2", "T1"]), ("T3/U1", [])):
        code, out, err = await run_command(tmp_path, "audit", "--slack-user", wanted, "--json")
        assert code == 0, err
        assert [row["slack_scope"] for row in json.loads(out)] == scopes


async def test_audit_text_columns_line_up_for_the_longest_event(tmp_path: Path) -> None:
    from account_binding.audit import Actor, AuditEvent, AuditLog
    from account_binding.sqlite_store import SQLiteStore

    store = SQLiteStore(tmp_path / "app.sqlite3")
    await store.open()
    try:
        audit = AuditLog(store)
        for event in (AuditEvent.USER_ADDED, AuditEvent.LINK_RESEND_REFUSED, "bound"):
            await audit.record(AuditEvent(event), Actor(client="cli"))
    finally:
        await store.close()
    code, out, err = await run_command(tmp_path, "audit")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and any("link_resend_refused" in line for line in lines)
    assert len({line.index(" user=") for line in lines}) == 1, out


async def test_an_administrator_can_unbind_a_slack_account(tmp_path: Path) -> None:
    """The home page tells a person whose account a stranger's Slack account acts as to ask
    their administrator: `unbind WORKSPACE/USER` removes it, revokes its token, is audited."""
    from account_binding.models import SlackIdentity, SlackProfile
    from account_binding.sqlite_store import SQLiteStore

    store = SQLiteStore(tmp_path / "app.sqlite3")
    await store.open()
    try:
        user = await store.create_user("ada", "ada@example.com", "not-a-real-hash", 1)
        identity = SlackIdentity.from_ids(team_id="T0ACME", user_id="U0EVE", enterprise_id=None)
        now = int(time.time())
        await store.add_binding_request("n", identity, SlackProfile("eve", "acme"), now, now + 60)
        await store.complete_binding("n", user.id, now, "token-hash", "ciphertext")
    finally:
        await store.close()

    code, out, err = await run_command(tmp_path, "unbind", "T0ACME/U0EVE", SECRET_KEY=KEY)
    assert code == 0 and "Removed the binding of T0ACME/U0EVE" in out, err
    code, _, err = await run_command(tmp_path, "unbind", "T0ACME/U0EVE", SECRET_KEY=KEY)
    assert code == 1 and "account-binding: No binding for T0ACME/U0EVE" in err
    code, _, err = await run_command(tmp_path, "unbind", "U0EVE", SECRET_KEY=KEY)
    assert code == 2 and "T0ACME/U0ADA" in err
    code, out, err = await run_command(tmp_path, "audit", "--event", "unbound", "--json")
    [row] = json.loads(out)
    assert (row["user"], row["slack_user"], row["client"]) == ("ada", "U0EVE", "cli")
    with sqlite3.connect(tmp_path / "app.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (0,)
        assert db.execute("SELECT revoked_at IS NOT NULL FROM api_tokens").fetchone() == (1,)


def test_a_password_prompt_ended_with_ctrl_d_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """At a terminal, Ctrl-D at `Password:` ended `user add` with an EOFError traceback. The
    prompt is read before any event loop runs, so Ctrl-C there stops the command at once."""
    import getpass

    from launcher import cli

    def ctrl_d(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(getpass, "getpass", ctrl_d)
    monkeypatch.setenv("DATABASE", str(tmp_path / "app.sqlite3"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["user", "add", "ada", "--email", "ada@example.com"]) == 1
    err = capsys.readouterr().err
    assert "No password given" in err and "Traceback" not in err
    assert not (tmp_path / "app.sqlite3").exists()
