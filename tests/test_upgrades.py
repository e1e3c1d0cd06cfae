"""Upgrading across versions: migrations run at start, under the write lock, so several
processes started at once on a new or an older database all come up, each migration applied
once; a database a newer version migrated is refused, never used."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from processes import COMMAND, AppProcess, child_environment, free_port, run_command
from sqlite_utils import Database

from account_binding.migrations import migrations
from account_binding.schema_guard import known_migrations
from account_binding.sqlite_store import open_database
from account_binding.store import StoreUnavailable
from stand_in.migrations import migrations as stand_in_migrations

KEY = "upgrade-test-secret-key-of-enough-length"
PROCESSES = 4


def older_database(path: Path, applied: int) -> None:
    """The database an older version left: only the first `applied` migrations of the
    domain's set (migrations are never edited once shipped, so these are that version's),
    none of the stand-in's, and an account made then, in that schema."""
    db = Database(sqlite3.connect(path))
    db.execute("PRAGMA journal_mode = WAL")  # as the app leaves every database
    migrations.apply(db, stop_before=known_migrations(migrations)[applied])
    db.execute(
        "INSERT INTO users (username, email, password_hash, created_at) "
        "VALUES ('old', 'old@example.com', 'x', 1)"
    )
    db.conn.commit()
    db.close()


def applied_names(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT migration_set, name FROM _sqlite_migrations ORDER BY rowid"
        ).fetchall()
    names: dict[str, list[str]] = {}
    for migration_set, name in rows:
        names.setdefault(migration_set, []).append(name)
    return names


async def start_together(apps: list[AppProcess], database: Path, seconds: float = 120) -> None:
    """Start every app at once on `database`, and wait for each to answer /healthz, or to exit
    (a failure). Meanwhile another connection holds the write lock until every app has said
    which database it uses (and has gone on to open it) or for 5 s at most, well within the
    10 s each waits for the lock: so they all find the migrations pending, then race for the
    lock together. A generous deadline: four starts share two cores with whatever else runs."""
    assert all(app.process is None for app in apps)
    if not database.exists():
        database.touch(mode=0o600)  # an empty file is a new database, which SQLite can lock
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        await asyncio.gather(*(app.spawn() for app in apps))
        deadline = time.monotonic() + seconds
        first: float | None = None
        while not all("account-binding: database" in app.output for app in apps):
            if first is None and any("account-binding: database" in a.output for a in apps):
                first = time.monotonic()
            if first is not None and time.monotonic() > first + 5:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the apps did not start within {seconds} s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # from printing that line to waiting for the lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    waiting = list(apps)
    async with httpx.AsyncClient(trust_env=False) as client:
        while waiting:
            for app in list(waiting):
                assert app.process is not None
                if app.process.returncode is not None:
                    await app.finish_reading()
                    raise AssertionError(f"an app exited at its start:\n{app.output}")
                try:
                    if (await client.get(app.base_url + "/healthz")).status_code == 200:
                        waiting.remove(app)
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(waiting)} app(s) did not start within {seconds} s")
            await asyncio.sleep(0.1)


class StartingApp(AppProcess):
    """`AppProcess` split in two: spawn now, wait for it elsewhere (`start_together`)."""

    async def spawn(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *COMMAND,
            "run",
            cwd=self.tmp_path,
            env=child_environment(self.tmp_path, **self.settings),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())

    async def finish_reading(self) -> None:
        await self._reader


@pytest.mark.parametrize("start_from", ["fresh", "older"])
async def test_four_apps_started_at_once_all_come_up_and_migrate_once(
    tmp_path: Path, start_from: str
) -> None:
    database = tmp_path / "app.sqlite3"
    if start_from == "older":
        older_database(database, applied=2)
        assert len(applied_names(database)["account_binding"]) == 2
    apps = [
        StartingApp(tmp_path, SECRET_KEY=KEY, SANDBOX_PORT=str(free_port()))
        for _ in range(PROCESSES)
    ]
    try:
        await start_together(apps, database)
    finally:
        for app in apps:
            if app.process is not None:
                await app.stop()
    for app in apps:
        assert "database is locked" not in app.output, app.output
        assert "Traceback" not in app.output, app.output
    names = applied_names(database)
    # The schema ends at the latest, each migration applied exactly once, in order.
    assert names == {
        "account_binding": known_migrations(migrations),
        "stand_in": known_migrations(stand_in_migrations),
    }
    if start_from == "older":
        code, out, _ = await run_command(tmp_path, "user", "list")
        assert code == 0 and "old\told@example.com" in out  # its data came along


# No downgrade


def newer_database(path: Path, migration_set: str = "account_binding") -> None:
    """A database as a later version leaves it: everything this version knows, plus a
    migration of `migration_set` it does not."""
    open_database(path, also_migrate=[stand_in_migrations]).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
            [migration_set, "m999_from_a_newer_version", "2027-01-01"],
        )


@pytest.mark.parametrize("migration_set", ["account_binding", "stand_in"])
def test_a_database_a_newer_version_migrated_is_refused_untouched(
    tmp_path: Path, migration_set: str
) -> None:
    path = tmp_path / "app.sqlite3"
    newer_database(path, migration_set)
    before = applied_names(path)
    with pytest.raises(StoreUnavailable) as refused:
        open_database(path, also_migrate=[stand_in_migrations]).close()
    message = str(refused.value)
    assert message.startswith(f"Cannot use DATABASE {path}: a newer version")
    assert "m999_from_a_newer_version" in message and "restore the backup" in message
    assert applied_names(path) == before


async def test_an_older_version_refuses_to_start_on_a_newer_database_in_one_line(
    tmp_path: Path,
) -> None:
    newer_database(tmp_path / "app.sqlite3")
    for command in (["run"], ["user", "list"]):
        code, _, err = await run_command(tmp_path, *command, SECRET_KEY=KEY)
        lines = [line for line in err.splitlines() if "database /" not in line]
        assert code == 1 and "Traceback" not in err, err
        assert lines == [
            f"account-binding: Cannot use DATABASE {tmp_path / 'app.sqlite3'}: a newer "
            "version of account-binding has migrated it (its migration "
            "m999_from_a_newer_version of the set 'account_binding' is unknown to this "
            "version); run that version or a later one, or restore the backup taken "
            "before the upgrade: a database is never migrated back"
        ], err
    # A backup copies it as it is (and says it could not audit it).
    code, _, err = await run_command(tmp_path, "backup", "b", SECRET_KEY=KEY)
    assert code == 0 and "not audited: a newer version" in err, err
