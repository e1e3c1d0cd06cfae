"""`account-binding backup DIR` and the README's restore steps, over real files and processes:
a backup taken while another process writes, a restore that the real app then serves, and
each refusal as one line."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import find_link, run_app
from processes import run_command
from sqlite_utils import Database

from account_binding.migrations import migrations
from account_binding.settings import Settings, load_settings
from account_binding.sqlite_store import open_database
from launcher.backup import STEP_PAGES, BackupRefused, take_backup

KEY = "backup-test-secret-key-of-enough-length"

#: A process that binds one new person after another through the store (the app's own
#: transactions: a user, a link, the binding with its token and audit rows) until told to stop.
WRITER = """
import asyncio, sys
from pathlib import Path
from account_binding.audit import Actor, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.models import SlackIdentity, SlackPerson, SlackProfile
from account_binding.sqlite_store import SQLiteStore

class Directory:
    async def person(self, identity):
        return SlackPerson("Writer", "writer", None, None)

async def main(path, stop, key):
    store = SQLiteStore(path)
    await store.open()
    service = BindingService(store, TokenCipher(key), AuditLog(store), Directory(), BindingPolicy())
    i = 0
    while not stop.exists():
        user = await store.create_user(f"w{i}", f"w{i}@example.com", "hash", 1)
        identity = SlackIdentity.from_ids(team_id="T1", user_id=f"UW{i}", enterprise_id=None)
        profile = SlackProfile(user_name=f"w{i}", team_name="acme", app_id="A1")
        link = await service.issue_link(identity, profile)
        await service.confirm(link.nonce, user, Actor(client="writer"))
        i += 1
    await store.close()

asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
"""


def settings_for(database: Path, **extra: str) -> Settings:
    return load_settings({"DATABASE": str(database), **extra}, env_file=None)


def binding_ids(database: Path) -> set[int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT id FROM bindings")}


def wait_until(condition: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s")
        time.sleep(0.05)


# A backup while the app writes


@pytest.mark.parametrize("pages", [1, STEP_PAGES], ids=["one-page-steps", "default-steps"])
def test_a_backup_taken_while_another_process_binds_holds_every_binding_committed_before_it(
    tmp_path: Path, pages: int
) -> None:
    """Another process binds people without a pause while the backup copies. With one-page
    steps every commit between two steps makes SQLite begin the copy again, so the backup
    ends in one step; either way the copy is whole and holds every binding committed before
    it began. (A plain file copy misses those still in the -wal file.)"""
    database = tmp_path / "app.sqlite3"
    open_database(database).close()
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database), str(stop), KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    try:
        wait_until(lambda: len(binding_ids(database)) >= 30, "the writer bound 30 people")
        before = binding_ids(database)
        made = take_backup(
            settings_for(database, SECRET_KEY=KEY), tmp_path / "backups", pages=pages
        )
        during = len(binding_ids(database))
        # The writer was never held up for good: it goes on binding after the backup.
        wait_until(lambda: len(binding_ids(database)) > during, "the writer went on")
    finally:
        stop.touch()
        _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err.decode()
    assert b"locked" not in err

    copied = binding_ids(made.database)
    assert before <= copied, f"{len(before - copied)} committed bindings are missing"
    assert made.bindings == len(copied)
    with sqlite3.connect(made.database) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
    assert sorted(p.name for p in made.database.parent.iterdir()) == [made.database.name]
    reopened = open_database(made.database)  # the app's own opener takes it as it is
    assert not migrations.pending(reopened)
    reopened.close()


def test_a_copy_begun_again_and_again_by_commits_ends_in_one_step(tmp_path: Path) -> None:
    """A thread commits without a pause while the copy goes one page at a time: each commit
    between two steps makes SQLite begin again, which could go on as long as the app writes.
    Past the restarts allowed, the rest is copied in one step (one read snapshot, which under
    WAL holds up no writer), and the copy holds what was committed before it began."""
    database = tmp_path / "app.sqlite3"
    open_database(database).close()
    stop = threading.Event()
    committed = 0

    def write() -> None:
        nonlocal committed
        db = sqlite3.connect(database, isolation_level=None, timeout=10)
        while not stop.is_set():
            db.execute(
                "INSERT INTO audit_events (at, event, detail) VALUES (?, 'test', ?)",
                [committed, "x" * 200],
            )
            committed += 1
        db.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_until(lambda: committed >= 500, "the thread committed 500 rows")
        with sqlite3.connect(database) as db:
            (before,) = db.execute("SELECT count(*) FROM audit_events").fetchone()
        made = take_backup(settings_for(database), tmp_path / "b", pages=1, restarts_allowed=2)
    finally:
        stop.set()
        writer.join(30)
    assert made.one_step and made.restarts == 3
    with sqlite3.connect(made.database) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        (copied,) = db.execute("SELECT count(*) FROM audit_events").fetchone()
    assert copied >= before


# Restore


async def test_a_restored_backup_serves_the_bindings_it_held_with_its_key_file(
    tmp_path: Path,
) -> None:
    """The README's restore steps, end to end through the real app with a generated key:
    what was bound before the backup works after it (the person's encrypted token decrypts and
    reaches the internal application), what came after is gone. Restored without the key
    file, the same binding cannot be used: the app removes it and asks to connect again."""
    database = tmp_path / "app.sqlite3"
    key_file = tmp_path / "app.sqlite3.secret-key"
    async with run_app(tmp_path, SECRET_KEY="") as app:
        assert key_file.is_file()  # generated, beside the database
        await app.bind("ada", "U0ADA")
        await app.command("U0ADA", "todo add Water the plants")
        # While the app runs: the command as an operator runs it, in a process of its own.
        code, out, err = await run_command(tmp_path, "backup", "backups", "--json")
        assert code == 0, err
        made = json.loads(out)
        await app.bind("grace", "U0GRACE")  # after the backup

    backup, backup_key = Path(made["database"]), Path(made["key_file"])
    assert made["secret_key"] == "file" and made["bindings"] == 1 and made["audited"]
    assert backup_key.read_text().strip() == key_file.read_text().strip()

    def restore(with_key: bool) -> None:
        """README: stop the app; remove DATABASE's -wal and -shm files; copy the backup as
        DATABASE and its key file as DATABASE.secret-key, both mode 600; start the app."""
        for suffix in ("", "-wal", "-shm", ".secret-key"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, database)
        database.chmod(0o600)
        if with_key:
            shutil.copyfile(backup_key, key_file)
            key_file.chmod(0o600)

    restore(with_key=True)
    code, out, err = await run_command(tmp_path, "binding", "list", "--json")
    assert code == 0, err
    assert [(b["username"], b["slack_user_id"]) for b in json.loads(out)] == [("ada", "U0ADA")]
    async with run_app(tmp_path, SECRET_KEY="") as app:
        [reply] = [m for m in await app.command("U0ADA", "todo") if m.source == "response_url"]
        assert "Water the plants" in json.dumps(
            reply.blocks
        )  # through the stand-in's API, with the token
        find_link(await app.command("U0GRACE", "whoami"))  # bound after the backup: not now

    restore(with_key=False)  # a new key is generated at the start
    async with run_app(tmp_path, SECRET_KEY="") as app:
        find_link(await app.command("U0ADA", "todo"))  # asked to connect again
        assert app.query("SELECT count(*) FROM bindings") == [(0,)]


# The command


async def test_backup_makes_private_files_in_a_private_directory_and_audits_them(
    tmp_path: Path,
) -> None:
    old = os.umask(0o022)
    try:
        code, _, err = await run_command(
            tmp_path, "user", "add", "ada", "--email", "ada@example.com", stdin="pw-of-ada-1\n"
        )
        assert code == 0, err
        settings_for(tmp_path / "app.sqlite3").secret_key()  # generated, as `run` does
        code, out, err = await run_command(tmp_path, "backup", "new/backups")
    finally:
        os.umask(old)
    assert code == 0 and "Traceback" not in err, err
    directory = tmp_path / "new" / "backups"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(directory.iterdir())
    assert [f.name.endswith((".sqlite3", ".sqlite3.secret-key")) for f in files] == [True, True]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert f"Backed up to {files[0]}" in out and f"Its secret key: {files[1]}" in out
    assert files[1].name == files[0].name + ".secret-key"  # where the app looks beside DATABASE

    code, out, _ = await run_command(tmp_path, "audit", "--event", "backup_made", "--json")
    [entry] = json.loads(out)
    assert entry["client"] == "cli" and entry["detail"] == str(files[0])


def test_two_backups_in_one_second_never_overwrite_each_other(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite3"
    open_database(database).close()
    settings = settings_for(database)
    settings.secret_key()
    moment = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    first = take_backup(settings, tmp_path / "b", now=moment)
    first_key = first.key_file.read_bytes() if first.key_file else b""
    (tmp_path / "b" / "app-20261130T120000Z-2.sqlite3.secret-key").write_text("someone's")
    second = take_backup(settings, tmp_path / "b", now=moment)
    assert first.database.name == "app-20261130T120000Z.sqlite3"
    assert second.database.name == "app-20261130T120000Z-3.sqlite3"  # -2's key name was taken
    assert first.key_file and first.key_file.read_bytes() == first_key
    assert (tmp_path / "b" / "app-20261130T120000Z-2.sqlite3.secret-key").read_text() == (
        "someone's"
    )
    assert not list((tmp_path / "b").glob(".*"))  # no temporary file left


async def test_with_secret_key_in_the_environment_the_backup_says_it_holds_no_key(
    tmp_path: Path,
) -> None:
    open_database(tmp_path / "app.sqlite3").close()
    code, out, err = await run_command(tmp_path, "backup", "b", SECRET_KEY=KEY)
    assert code == 0, err
    assert "SECRET_KEY is set in the environment, so this backup holds no key" in out
    assert [p.suffix for p in (tmp_path / "b").iterdir()] == [".sqlite3"]
    assert KEY not in out + err


async def test_each_refusal_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    async def refused(*args: str, **settings: str) -> str:
        code, _out, err = await run_command(tmp_path, "backup", *args, **settings)
        lines = [
            line for line in err.splitlines() if not line.startswith("account-binding: database")
        ]
        assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
        return lines[0]

    assert "there is no database at" in await refused("b")
    assert not (tmp_path / "b").exists()  # nothing made for a database that is not there

    (tmp_path / "app.sqlite3").write_text("not a database, but some text that is long enough")
    assert "not a SQLite database" in await refused("b")
    assert not any((tmp_path / "b").iterdir())
    (tmp_path / "app.sqlite3").unlink()

    open_database(tmp_path / "app.sqlite3").close()
    (tmp_path / "file").write_text("")
    assert "is not a directory" in await refused("file")
    assert "Cannot make the backup directory" in await refused("file/b")
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "locked").mkdir(mode=0o500)
        assert "Cannot write in the backup directory" in await refused("locked")


async def test_an_unsafe_key_file_stops_the_backup_as_it_stops_run(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "app.sqlite3")
    open_database(settings.database).close()
    settings.secret_key()
    (tmp_path / "app.sqlite3.secret-key").chmod(0o644)
    code, _, err = await run_command(tmp_path, "backup", "b")
    assert code == 2 and "is open to others" in err and "Traceback" not in err, err
    assert not any((tmp_path / "b").iterdir())


def test_a_copy_that_fails_its_integrity_check_is_not_kept(tmp_path: Path) -> None:
    """A database whose index no longer matches its table (the pages are sound, so SQLite
    copies them): the copy fails PRAGMA integrity_check and is thrown away."""
    database = tmp_path / "app.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE a (x)")
        db.execute("CREATE INDEX a_x ON a (x)")
        db.execute("CREATE TABLE b (x)")
        db.executemany("INSERT INTO a VALUES (?)", [(i,) for i in range(50)])
        db.executemany("INSERT INTO b VALUES (?)", [(i + 1000,) for i in range(70)])
        pages = dict(db.execute("SELECT name, rootpage FROM sqlite_master WHERE type='table'"))
        db.execute("PRAGMA writable_schema = ON")
        db.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'a'", [pages["b"]])
    with pytest.raises(Exception, match="failed PRAGMA integrity_check"):
        take_backup(settings_for(database), tmp_path / "b")
    assert not any((tmp_path / "b").iterdir())


async def test_a_backup_of_an_older_schema_leaves_it_unmigrated_and_says_it_is_not_audited(
    tmp_path: Path,
) -> None:
    """A backup before an upgrade, taken with the new version: it must copy the database as
    it is, not migrate it first."""
    database = tmp_path / "app.sqlite3"
    older = Database(sqlite3.connect(database))
    migrations.apply(older, stop_before=migrations._migrations[3].name)
    older.close()
    code, _out, err = await run_command(tmp_path, "backup", "b")
    assert code == 0, err
    assert "not audited: its schema is older than this version's" in err
    with sqlite3.connect(database) as db:
        applied = db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
    assert applied == 3


# DIR is trusted only when it is this user's own (issue 11's attack review): each refusal is
# one line, exit status 1, saying what to do, and leaves nothing where DIR led.


async def refusal(tmp_path: Path, directory: str) -> str:
    open_database(tmp_path / "app.sqlite3").close()
    settings_for(tmp_path / "app.sqlite3").secret_key()  # a key the backup would copy
    code, _out, err = await run_command(tmp_path, "backup", directory)
    lines = [line for line in err.splitlines() if not line.startswith("account-binding: database")]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


async def test_a_dir_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    """Planted where the operator backs up, a link to a directory of the planter's choice."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "b").symlink_to(elsewhere)
    line = await refusal(tmp_path, "b")
    assert "is a symbolic link: name the directory itself" in line
    assert not any(elsewhere.iterdir())


async def test_a_dir_group_or_others_can_write_is_refused(tmp_path: Path) -> None:
    for mode in (0o777, 0o770, 0o1733):
        directory = tmp_path / f"b{mode:o}"
        directory.mkdir()
        directory.chmod(mode)
        line = await refusal(tmp_path, directory.name)
        assert f"can be written by group or others (mode {mode:o})" in line
        assert line.endswith(f"chmod go-w {directory}")
        assert not any(directory.iterdir())


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
async def test_a_dir_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "b"
    directory.mkdir(mode=0o700)
    nobody = pwd.getpwnam("nobody")
    os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    line = await refusal(tmp_path, "b")
    assert f"{directory} belongs to nobody, not to root" in line
    assert "name a directory of your own, or chown root" in line
    assert not any(directory.iterdir())


def test_a_temporary_file_swapped_under_the_backup_is_never_linked(tmp_path: Path) -> None:
    """A thread swaps each new file under DIR (its final backups aside) for a file of its
    own, mode 0666, between its making and its linking, as whoever could write there could:
    before DIR was checked, another user with a DIR open to all. Now only this user (or root)
    can write in the private directory the backup works in; this thread, running as this
    user, stands in for that. A swapped file is never linked: the backup refuses, or it holds
    the database and the key, each mode 0600."""
    database = tmp_path / "app.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE bindings (id INTEGER PRIMARY KEY, secret TEXT)")
        db.execute("INSERT INTO bindings (secret) VALUES ('xoxp-very-secret-token')")
    settings = settings_for(database)
    key = settings.secret_key()
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o700)
    stop = threading.Event()
    swapped: set[str] = set()

    def attacker() -> None:
        while not stop.is_set():
            for folder, _dirs, names in os.walk(shared):
                for name in names:
                    path = os.path.join(folder, name)
                    final = folder == str(shared) and not name.startswith(".")
                    if final or path in swapped or name.endswith("-journal"):
                        continue
                    try:
                        os.unlink(path)
                        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                        os.fchmod(fd, 0o666)
                        os.close(fd)
                        swapped.add(path)
                    except OSError:
                        pass

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    refused: list[str] = []
    won: list[str] = []
    try:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for attempt in range(40):
            try:
                made = take_backup(settings, shared, now=start + timedelta(seconds=attempt))
            except BackupRefused as error:
                refused.append(str(error))
                continue
            assert made.key_file is not None
            for path in (made.database, made.key_file):
                if stat.S_IMODE(path.stat().st_mode) != 0o600:
                    won.append(f"{path.name} mode {stat.S_IMODE(path.stat().st_mode):o}")
            if made.key_file.read_text() != key + "\n" or made.bindings != 1:
                won.append(f"{made.database.name}: not the database and key")
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    assert swapped, "the thread never swapped a file: the test proved nothing"
    assert not won, f"a file swapped in was linked as the backup: {won}"
    # Which refusal a swap causes depends on the moment it lands (the inode check, SQLite
    # finding a file not its own, ...): each is a refusal, and none kept a foreign file.
    assert refused, "no backup was refused although files were swapped"
    assert not [p for p in shared.iterdir() if p.name.startswith(".")]  # nothing temporary left
