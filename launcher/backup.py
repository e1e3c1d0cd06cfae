"""`account-binding backup DIR`: a consistent copy of the database, safe while the app runs,
with the generated secret key file beside it.

The copy is made with SQLite's online backup API (`sqlite3.Connection.backup`,
sqlite.org/backup.html), which reads the database through SQLite itself: committed
transactions still in the `-wal` file are included, and the copy is one consistent moment,
however the app writes meanwhile. A file copy (`cp`) of a WAL database is not.

It copies `STEP_PAGES` pages at a time, pausing `STEP_PAUSE` seconds between steps. A commit
by another connection (the app) between two steps makes SQLite begin the copy again; after
`RESTARTS_ALLOWED` such restarts (the app is busy) it copies the whole in one step, which
reads one snapshot until it ends. Under WAL, which the app always uses, a reader never blocks
the app's writers, so neither way makes a command or page wait; the one-step copy only keeps
the `-wal` file from being checkpointed while it runs.

The copy `DIR/<name>-<UTC time>.sqlite3` is written under a temporary name, switched to
rollback-journal mode (one self-contained file), checked with `PRAGMA integrity_check`, and
only then linked to its final name, which is never an existing file. The generated key
(`<DATABASE>.secret-key`, see `Settings.secret_key`) is copied beside it as
`<copy>.secret-key`, the name the app looks for beside a DATABASE, so a restored copy finds its
key. With SECRET_KEY set in the environment the backup holds no key: the operator keeps it.
Files are mode 0600; DIR, when made here, 0700.

DIR is trusted only when it is this user's own: it is opened with `O_DIRECTORY|O_NOFOLLOW`
(a DIR that is a symbolic link is refused) and refused unless this user owns it and neither
group nor others can write in it, since whoever can write there could read or replace the
backup. Everything temporary is made in a new private (0700) directory inside DIR; each file
is made there with `O_EXCL|O_NOFOLLOW`, mode 0600, and linked to its final name only while the
name still holds that very file (same device and inode as the descriptor that made it),
which is checked again once linked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import sqlite3
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from sqlite_utils import Database

from account_binding.audit import Actor, AuditEvent, AuditLog
from account_binding.errors import DomainError, StoreBusy
from account_binding.migrations import migrations
from account_binding.schema_guard import NewerSchema, refuse_newer_schema
from account_binding.settings import Settings
from account_binding.sqlite_store import BUSY_TIMEOUT_SECONDS
from account_binding.store import NoDatabase, StoreUnavailable

from .compose import open_store

#: Pages copied per step (4 MiB at SQLite's default page size of 4096 bytes).
STEP_PAGES = 1024
#: Seconds between two steps.
STEP_PAUSE = 0.005
#: Restarts (the app committed between two steps) before the copy is made in one step.
RESTARTS_ALLOWED = 3
PRIVATE = 0o600
KEY_SUFFIX = ".secret-key"  # as Settings.secret_key names the generated key's file

KeySource = Literal["file", "environment", "none"]


class BackupRefused(DomainError):
    """The backup cannot be made; `str(error)` is one line saying why and what to do."""


@dataclass(frozen=True)
class Backup:
    """A backup made: the copy of the database, and where its secret key is.

    `key_file` is the copy of `<DATABASE>.secret-key`, or None when `key_source` is
    "environment" (SECRET_KEY is set: the backup holds no key) or "none" (no key was ever
    generated). `size` is the copy's size in bytes; `bindings` how many bindings it holds.
    `restarts` counts the copies begun again because the app committed meanwhile, and
    `one_step` says whether it was then made in one step.
    """

    database: Path
    key_file: Path | None
    key_source: KeySource
    size: int
    bindings: int
    restarts: int
    one_step: bool


def add_command(commands: Any) -> None:
    """Add `backup DIR [--json]` to the CLI's subcommands."""
    backup = commands.add_parser(
        "backup",
        help="copy the database (safe while the app runs) and its generated key file into DIR",
    )
    backup.add_argument(
        "directory",
        metavar="DIR",
        type=Path,
        help="where the copy goes (made, mode 700, when missing); nothing there is overwritten",
    )
    backup.add_argument("--json", action="store_true", help="print what was made as JSON")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`account-binding backup DIR`: make the backup, audit it, print it; the exit status.

    Raises NoDatabase, BackupRefused (a DomainError) or SettingsError (an unsafe key file)
    for the CLI to print as one line.
    """
    made = take_backup(settings, args.directory)
    not_audited = asyncio.run(record_backup(settings, made))
    if args.json:
        print(
            json.dumps(
                {
                    "database": str(made.database),
                    "key_file": str(made.key_file) if made.key_file else None,
                    "secret_key": made.key_source,
                    "bytes": made.size,
                    "bindings": made.bindings,
                    "integrity_check": "ok",
                    "audited": not_audited is None,
                },
                indent=2,
            )
        )
    else:
        print(
            f"Backed up to {made.database} ({made.bindings} binding(s), {made.size} bytes; "
            "PRAGMA integrity_check: ok)."
        )
        print(_key_line(made))
    if not_audited is not None:
        print(f"account-binding: the backup was not audited: {not_audited}", file=sys.stderr)
    return 0


def _key_line(made: Backup) -> str:
    if made.key_file is not None:
        return (
            f"Its secret key: {made.key_file}. Keep the two together, and as private as the "
            "database: restored without it, every binding must be made again."
        )
    if made.key_source == "environment":
        return (
            "SECRET_KEY is set in the environment, so this backup holds no key: keep "
            "SECRET_KEY apart and safe; restored without it, every binding must be made again."
        )
    return (
        "No key file beside DATABASE and no SECRET_KEY: nothing was encrypted with a key yet "
        "(`run` makes one at its first start)."
    )


def take_backup(
    settings: Settings,
    directory: Path,
    *,
    now: datetime | None = None,
    pages: int = STEP_PAGES,
    restarts_allowed: int = RESTARTS_ALLOWED,
) -> Backup:
    """Copy DATABASE (and `<DATABASE>.secret-key` unless SECRET_KEY is set) into `directory`
    as `<name>-<UTC time, now by default>.sqlite3` (and `.sqlite3.secret-key`). `pages` and
    `restarts_allowed` as `STEP_PAGES` and `RESTARTS_ALLOWED` (tests make them small).

    Raises NoDatabase when DATABASE does not exist, BackupRefused (one line) when `directory`
    cannot be used or the copy fails its integrity check, and SettingsError when the key file
    is unsafe (as `run` would).
    """
    source = settings.database
    directory = directory.absolute()
    if not source.exists():
        raise NoDatabase(source)
    if not source.is_file():
        raise BackupRefused(f"DATABASE {source} is not a file: name the database file")
    _prepare(directory)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = source.stem if source.suffix else source.name
    with (
        _own_directory(directory) as dir_fd,
        _private_directory(directory, dir_fd) as (private, private_fd),
        _temporary(private, private_fd, "copy.sqlite3") as copy_temp,
    ):
        restarts, one_step = _copy(source, copy_temp.path, pages, restarts_allowed)
        bindings = _check(copy_temp.path)
        key_source, key = _key(settings)
        with _temporary(private, private_fd, "key") as key_temp:
            if key is not None:
                _write_private(key_temp.fd, (key + "\n").encode())
            final = _link_into_place(
                directory, dir_fd, private_fd, f"{base}-{stamp}", copy_temp, key_temp, key
            )
        size = os.fstat(copy_temp.fd).st_size
        os.fsync(dir_fd)  # the new names survive a crash (POSIX: a name is its directory's data)
    return Backup(
        database=final,
        key_file=final.with_name(final.name + KEY_SUFFIX) if key is not None else None,
        key_source=key_source,
        size=size,
        bindings=bindings,
        restarts=restarts,
        one_step=one_step,
    )


def _prepare(directory: Path) -> None:
    """Make `directory` (0700) when missing; refuse one that is not a writable directory."""
    try:
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True)
            os.chmod(directory, 0o700)
    except OSError as error:
        raise BackupRefused(
            f"Cannot make the backup directory {directory}: {error.strerror or error}"
        ) from None
    if not directory.is_dir():
        raise BackupRefused(f"{directory} is not a directory: name a directory for the backup")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise BackupRefused(
            f"Cannot write in the backup directory {directory}: run the command as a user "
            "who can, or name another DIR"
        )


# Issue 11, attack review: DIR is trusted only when it is this user's own.
@contextlib.contextmanager
def _own_directory(directory: Path) -> Iterator[int]:
    """A descriptor of `directory`, opened with O_DIRECTORY|O_NOFOLLOW, closed when the block
    ends. Raises BackupRefused (one line saying what to do) when `directory` is a symbolic
    link, not this user's, or writable by group or others: whoever can write there could
    read or replace the backup."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as error:
        if directory.is_symlink():
            raise BackupRefused(
                f"The backup directory {directory} is a symbolic link: name the directory "
                "itself, one of your own"
            ) from None
        raise BackupRefused(
            f"Cannot open the backup directory {directory}: {error.strerror or error}"
        ) from None
    try:
        _refuse_unless_own(directory, os.fstat(fd))
        yield fd
    finally:
        os.close(fd)


def _refuse_unless_own(directory: Path, status: os.stat_result) -> None:
    if status.st_uid != os.geteuid():
        raise BackupRefused(
            f"The backup directory {directory} belongs to {_user(status.st_uid)}, not to "
            f"{_user(os.geteuid())}, who runs this: name a directory of your own, or "
            f"chown {_user(os.geteuid())} {directory}"
        )
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise BackupRefused(
            f"The backup directory {directory} can be written by group or others (mode "
            f"{stat.S_IMODE(status.st_mode):o}), who could read or replace the backup: "
            f"chmod go-w {directory}"
        )


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"user {uid}"


@contextlib.contextmanager
def _private_directory(directory: Path, dir_fd: int) -> Iterator[tuple[Path, int]]:
    """A new directory (mode 0700, `tempfile.mkdtemp`) inside `directory` and a descriptor of
    it; removed with all it holds when the block ends."""
    try:
        private = Path(tempfile.mkdtemp(prefix=".backup-", dir=directory))
        fd = os.open(private.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError as error:
        raise BackupRefused(
            f"Cannot write in the backup directory {directory}: {error.strerror or error}"
        ) from None
    try:
        yield private, fd
    finally:
        for _ in range(3):  # again, should a file appear in it meanwhile
            for name in os.listdir(fd):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=fd)
            try:
                os.rmdir(private.name, dir_fd=dir_fd)
                break
            except OSError:
                continue
        os.close(fd)


@dataclass(frozen=True)
class _File:
    """A file made in the private directory: its `path`, `name` there, and the descriptor
    (read-write) that made it."""

    path: Path
    name: str
    fd: int


@contextlib.contextmanager
def _temporary(private: Path, private_fd: int, name: str) -> Iterator[_File]:
    """A new private file (O_EXCL, O_NOFOLLOW, 0600) `name` in the private directory, open
    until the block ends."""
    try:
        fd = os.open(
            name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE, dir_fd=private_fd
        )
    except OSError as error:
        raise BackupRefused(
            f"Cannot write in the backup directory {private.parent}: {error.strerror or error}"
        ) from None
    try:
        yield _File(private / name, name, fd)
    finally:
        os.close(fd)


def _is_made(made: _File, name: str, dir_fd: int | None = None) -> bool:
    """Whether `name` (in the directory `dir_fd`, when given) is the very file `made` (same device and
    inode as its descriptor), not one put there since."""
    try:
        there = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    ours = os.fstat(made.fd)
    return (there.st_dev, there.st_ino) == (ours.st_dev, ours.st_ino)


class _TooBusy(Exception):
    """The app committed between steps more than allowed: copy in one step instead."""


def _copy(source: Path, target: Path, pages: int, restarts_allowed: int) -> tuple[int, bool]:
    """Copy `source` into the empty database file `target` with SQLite's backup API; how many
    times the copy began again, and whether it ended in one step."""
    restarts = 0
    last: int | None = None

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal restarts, last
        # A step that left no fewer pages to copy began the copy again: another connection
        # (the app) committed since the last step.
        if last is not None and remaining >= last:
            restarts += 1
            if restarts > restarts_allowed:
                raise _TooBusy()
        last = remaining
        if remaining:
            # Python's backup sleeps only when a step finds the source busy: pause here, so
            # that the app's commits go in between steps rather than wait for the copy.
            time.sleep(STEP_PAUSE)

    try:
        # mode=ro: a read-only connection never makes a file, nor writes the database.
        with (
            _connection(f"file:{quote(str(source.absolute()))}?mode=ro", uri=True) as src,
            _connection(str(target)) as dst,
        ):
            try:
                src.backup(dst, pages=pages, progress=progress)
                one_step = False
            except _TooBusy:
                src.backup(dst, pages=-1)
                one_step = True
            # The copy keeps WAL mode from its source; one file is easier to keep and move.
            dst.execute("PRAGMA journal_mode = DELETE").fetchone()
    except sqlite3.Error as error:
        raise BackupRefused(f"Cannot copy DATABASE {source}: {_reason(error)}") from None
    return restarts, one_step


@contextlib.contextmanager
def _connection(database: str, *, uri: bool = False) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(database, uri=uri, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        yield conn
    finally:
        conn.close()


def _reason(error: sqlite3.Error) -> str:
    text = str(error)
    if "not a database" in text:
        return f"{text} (DATABASE names a file that is not a SQLite database)"
    if "unable to open" in text or "readonly" in text:
        return f"{text} (this user must be able to read the file and its directory)"
    return text


def _check(copy: Path) -> int:
    """Run `PRAGMA integrity_check` on the copy and fsync it; how many bindings it holds.
    Raises BackupRefused when the check finds anything."""
    try:
        with _connection(str(copy)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
            if problems != ["ok"]:
                raise BackupRefused(
                    f"The copy failed PRAGMA integrity_check ({problems[0]}); nothing was "
                    "kept. The database itself may be damaged: stop the app and run "
                    "sqlite3 DATABASE 'PRAGMA integrity_check'"
                )
            try:
                (bindings,) = conn.execute("SELECT count(*) FROM bindings").fetchone()
            except sqlite3.OperationalError:  # a database made before any migration ran
                bindings = 0
    except sqlite3.Error as error:
        raise BackupRefused(f"Cannot check the copy {copy}: {error}") from None
    fd = os.open(copy, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return int(bindings)


def _key(settings: Settings) -> tuple[KeySource, str | None]:
    """Where the key is, and the generated key when it is in its file. Never makes a key: a
    missing file stays missing. An unsafe file raises SettingsError, as it stops `run`."""
    if settings.configured_secret_key is not None:
        return "environment", None
    path = settings.database.with_name(settings.database.name + KEY_SUFFIX)
    try:
        path.lstat()
    except FileNotFoundError:
        return "none", None
    return "file", settings.secret_key()  # reads and checks the file; it exists


def _write_private(fd: int, data: bytes) -> None:
    os.write(fd, data)
    os.fsync(fd)


def _link_into_place(
    directory: Path,
    dir_fd: int,
    private_fd: int,
    base: str,
    copy: _File,
    key_file: _File,
    key: str | None,
) -> Path:
    """Link the copy (and its key) to `base.sqlite3` (and `.sqlite3.secret-key`) in
    `directory`, or, when either name is taken, to `base-2.sqlite3` and so on: an existing file
    is never replaced (a link fails rather than overwrite). Each is linked only when its
    temporary name still holds the file made for it, and is checked once linked. The final
    copy's path."""
    for made in (copy, key_file) if key is not None else (copy,):
        # By its name in the private directory, and by the path SQLite wrote it through.
        if not (_is_made(made, made.name, private_fd) and _is_made(made, str(made.path))):
            raise _replaced(directory)
    for number in range(1, 100):
        final = f"{base}.sqlite3" if number == 1 else f"{base}-{number}.sqlite3"
        final_key = final + KEY_SUFFIX
        if key is not None and _exists(final_key, dir_fd):
            continue
        try:
            _link(directory, copy, final, private_fd, dir_fd)
        except FileExistsError:
            continue
        except OSError as error:
            raise BackupRefused(
                f"Cannot write in the backup directory {directory}: {error.strerror or error}"
            ) from None
        if key is None:
            return directory / final
        try:
            _link(directory, key_file, final_key, private_fd, dir_fd)
        except FileExistsError:  # made meanwhile: give this name up
            os.unlink(final, dir_fd=dir_fd)
            continue
        except BackupRefused:
            os.unlink(final, dir_fd=dir_fd)
            raise
        return directory / final
    raise BackupRefused(f"Too many backups named {base}… in {directory} already")


def _link(directory: Path, made: _File, final: str, private_fd: int, dir_fd: int) -> None:
    """Link `made` to `final`, then check that `final` is that file: a file put in its place
    between the check before and the link is unlinked again and the backup refused."""
    os.link(made.name, final, src_dir_fd=private_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    if not _is_made(made, final, dir_fd):
        os.unlink(final, dir_fd=dir_fd)
        raise _replaced(directory)


def _replaced(directory: Path) -> BackupRefused:
    return BackupRefused(
        f"A temporary file of the backup in {directory} was replaced while it was made: "
        "nothing was kept; find out who else can write there (only this user should)"
    )


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


async def record_backup(settings: Settings, made: Backup) -> str | None:
    """Audit the backup as `backup_made` (client "cli", detail: the copy's path); None when
    recorded, else why not (one line). Only a database this version needs not migrate is
    opened: a backup never changes the schema of the database it copies."""
    reason = _schema_mismatch(settings.database)
    if reason is not None:
        return reason
    try:
        store = await open_store(settings, create=False)
        try:
            await AuditLog(store).record(
                AuditEvent.BACKUP_MADE, Actor(client="cli"), detail=str(made.database)
            )
        finally:
            await store.close()
    except (StoreUnavailable, StoreBusy) as error:
        return (
            str(error)
            if isinstance(error, StoreUnavailable)
            else "another process held the write lock too long"
        )
    return None


def _schema_mismatch(database: Path) -> str | None:
    try:
        with _connection(f"file:{quote(str(database.absolute()))}?mode=ro", uri=True) as conn:
            db = Database(conn, execute_plugins=False)
            refuse_newer_schema(db, migrations)
            if migrations.pending(db):
                return (
                    "its schema is older than this version's, and this command does not "
                    "migrate it (the next `run` does)"
                )
    except NewerSchema:
        return "a newer version of account-binding has migrated it"
    except sqlite3.Error as error:
        return str(error)
    return None
