"""`Store` on a SQLite file through sqlite-utils.

One connection, owned by one worker thread: every call runs there, so the event loop never
blocks on the disk and the connection never crosses threads. Several processes (or `Store`s)
may share one file: WAL lets readers go on while one writer writes, and writes that must be
atomic run in one transaction.

Any number of processes may open a new or old file at once: the file is made with mode
0600 before SQLite opens it (SQLite gives `-wal` and `-shm` the database file's mode), WAL
is switched on, and the migrations run under the write lock, deciding what is pending only
once they hold it. Every wait for the lock ends at the busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from . import sqlite_outbox
from .errors import (
    AccountDisabled,
    AlreadyBound,
    EmailTaken,
    IdentityTaken,
    LinkExpired,
    LinkNotFound,
    LinkRateLimited,
    LinkUsed,
    StoreBusy,
    UsernameTaken,
)
from .migrations import migrations
from .models import Binding, BindingRequest, SlackIdentity, SlackProfile, User
from .outbox import NoticeKind, OutboxEntry
from .passwords import NO_PASSWORD
from .schema_guard import refuse_newer_schema  # Issue 11, operations
from .sqlite_queues import ReadQueue, WriteQueue, in_group, savepoint  # Issue 12
from .store import (
    AuditFilter,
    AuditRecord,
    BindingFilter,
    EndedBinding,
    EndedUser,
    IssuedToken,
    LinkLimit,
    ListedBinding,
    LoginAttempt,
    NewGrant,
    NoDatabase,
    RefreshedTokens,
    Rekeyed,
    RemovedBinding,
    ResendOutcome,
    Session,
    SlackSelection,
    StoredBinding,
    StoredFlow,
    StoredGrant,
    StoredResume,
    StoreUnavailable,
)
from .token_validity import TokenValidity

log = logging.getLogger(__name__)

T = TypeVar("T")
Row = dict[str, Any]

#: The longest any statement waits for another connection's lock, in seconds.
BUSY_TIMEOUT_SECONDS = 10
PRIVATE = 0o600


def open_database(
    path: Path, *, create: bool = True, also_migrate: Sequence[Migrations] = ()
) -> Database:
    """Open (creating it when `create`) and migrate the database at `path`: the domain's
    migrations, then each set of `also_migrate` (the tables another package keeps in the
    same file, such as the stand-in internal application's).

    Raises NoDatabase when `create` is false and there is no file, and StoreUnavailable with
    one line that names DATABASE and the reason when the file cannot be made, opened,
    locked within the busy timeout or migrated.
    """
    try:
        if not create and not path.exists():
            raise NoDatabase(path)
        existed = path.exists()
        if create:
            _make_private_file(path)
        file_id = _file_id(path)
        if not _opened_here(file_id):
            # Before anything touches a file DATABASE names by mistake; never once SQLite has
            # it open in this process (closing our own descriptor would drop its locks).
            _check_is_database(path)
        # mode=rw: never create here; the file exists (made above, or found).
        conn = sqlite3.connect(
            f"file:{quote(str(path.absolute()))}?mode=rw",
            uri=True,
            timeout=BUSY_TIMEOUT_SECONDS,
        )
    except OSError as error:
        raise StoreUnavailable(path, _reason(error)) from None
    except sqlite3.Error as error:
        raise StoreUnavailable(path, _reason(error)) from None
    try:
        db = Database(conn, execute_plugins=False)
        _enable_wal(conn)
        db.execute("PRAGMA foreign_keys = ON")
        # Issue 11, durability: FULL, not NORMAL. Under WAL either survives a crash of the
        # process (a commit is in the log, in the OS's cache, before it returns), but with
        # NORMAL the log reaches the disk only at checkpoints, so a power cut or an OS crash
        # can undo the last commits: a binding whose success page was served and whose DM
        # went out, an unbinding, an audit record. FULL syncs the log at every commit; the
        # app writes little (a link, a login, a binding), and it costs about a millisecond
        # a write on the test machine's disk (https://sqlite.org/pragma.html#pragma_synchronous).
        db.execute("PRAGMA synchronous = FULL")
        for migration_set in (migrations, *also_migrate):
            _migrate(db, migration_set)
        # A file made here is private from its first byte (SQLite gives -wal and -shm the
        # database's mode). One found loose is tightened, but only now that SQLite has read it
        # as a database: a file that merely starts like one is refused untouched.
        if existed:
            for suffix in ("", "-wal", "-shm"):
                _tighten(path.with_name(path.name + suffix))
    except (OSError, sqlite3.Error) as error:
        conn.close()
        raise StoreUnavailable(path, _reason(error)) from None
    with _OPENED_LOCK:
        _OPENED.add(file_id)
    return db


#: The files, as (device, inode), that SQLite has had open in this process. POSIX drops every
#: lock a process holds on a file when the process closes any descriptor of that file
#: (sqlite.org/howtocorrupt.html, section 2.2): after reading such a file's header with
#: Python's own open() and closing it, another process took this one for gone, checkpointed
#: and deleted the WAL this one was still writing to. So this module opens a file itself only
#: before SQLite first has it here.
_OPENED: set[tuple[int, int]] = set()
_OPENED_LOCK = threading.Lock()


def _file_id(path: Path) -> tuple[int, int]:
    info = path.stat()
    return (info.st_dev, info.st_ino)


def _opened_here(file_id: tuple[int, int]) -> bool:
    with _OPENED_LOCK:
        return file_id in _OPENED


def _make_private_file(path: Path) -> None:
    """Create the database file with mode 0600, unless it exists (SQLite then opens it)."""
    if path.parent.exists() and not path.parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{path.parent} is not a directory")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE)
    except FileExistsError:
        return
    os.close(fd)


#: The first 16 bytes of every SQLite 3 database file (sqlite.org/fileformat.html, 1.3).
SQLITE_HEADER = b"SQLite format 3\x00"


def _check_is_database(path: Path) -> None:
    """Refuse, touching nothing, a DATABASE that is not a regular file (a device, a FIFO) or
    a file with something else in it: its mode must not be changed, nor a journal made
    beside it. An empty file is a database SQLite has yet to write."""
    st = path.stat()  # follows a link: a link to a database file is fine
    if not stat.S_ISREG(st.st_mode):
        raise StoreUnavailable(path, "it is not a regular file; name a database file")
    if st.st_size == 0:
        return
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise StoreUnavailable(
            path, "it is not a SQLite database, so it was left untouched; name another file"
        )


def _tighten(path: Path) -> None:
    """Take group and others' access away from a database file made looser before."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            os.chmod(path, mode & 0o700)
        except OSError as error:
            log.warning(
                "%s is open to others (mode %o) and cannot be tightened: %s", path, mode, error
            )
        else:
            log.warning("%s was open to others (mode %o); it is now %o", path, mode, mode & 0o700)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. Changing the journal mode needs a lock that the busy handler
    does not always wait for, so a busy answer is retried until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL (journal mode {mode})")
        return


def _migrate(db: Database, migration_set: Migrations) -> None:
    """Apply the set's pending migrations, deciding what is pending under the write lock."""
    # Issue 11, operations: a file a newer version migrated is refused, never used (NewerSchema).
    refuse_newer_schema(db, migration_set)
    if not migration_set.pending(db):
        return  # the usual start: nothing to do, no write lock taken
    with _write(db):
        migration_set.apply(db)  # reads what is pending again, inside this transaction


def _busy_is(fn: Callable[[Database], T], db: Database) -> T:
    """`fn(db)`, with SQLite's "database is locked" after the busy timeout as StoreBusy."""
    try:
        return fn(db)
    except sqlite3.OperationalError as error:
        if _is_busy(error):
            raise StoreBusy() from None
        raise


def _run_one(fn: Callable[[Database], T], db: Database, deadline: float) -> T:
    """`fn(db)` alone, in its own transaction, waiting for another connection's lock until
    `deadline` (time.monotonic()) at most."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise StoreBusy()
    db.conn.execute(f"PRAGMA busy_timeout = {max(1, int(remaining * 1000))}")
    return _busy_is(fn, db)


def _is_busy(error: sqlite3.Error) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def _reason(error: OSError | sqlite3.Error) -> str:
    if isinstance(error, OSError):
        return str(error.strerror or error)
    if _is_busy(error):
        return f"another process held it locked for over {BUSY_TIMEOUT_SECONDS} seconds"
    text = str(error)
    if "readonly" in text or "unable to open" in text:
        return f"{text} (this user must be able to write the file and its directory)"
    return text


class SQLiteDatabase:
    """Two connections, each owned by one worker thread: every write runs on the writer's,
    every plain read on the reader's. Under WAL a read never waits for a write lock, so a
    write queued behind another process's lock (for up to the busy timeout) holds up no page
    or command that only reads.

    A write that cannot take the lock within the busy timeout raises StoreBusy.

    The base of every store over the file: `SQLiteStore` (the domain's) and the stand-in
    internal application's, which passes its own migrations in `also_migrate`. Subclasses
    run writes through `_run` (inside `write_transaction`) and reads through `_read`.
    """

    def __init__(
        self, path: Path, *, create: bool = True, also_migrate: Sequence[Migrations] = ()
    ) -> None:
        self._path = path
        self._create = create
        self._also_migrate = tuple(also_migrate)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-read")
        self._db: Database | None = None
        self._read_db: Database | None = None
        self._closed = False
        self._writes = WriteQueue(self._executor, self._connect, _run_one, _is_busy)
        #: Issue 12: the thread whose lookups run at once (`_lookup`): the one that opened it
        self._home: int | None = None
        self._inline_db: Database | None = None
        self._reads = ReadQueue(self._reader, self._connect_reader, _busy_is)

    @property
    def path(self) -> Path:
        return self._path

    async def open(self) -> None:
        """Open and migrate the database now, rather than at the first call.

        Raises NoDatabase or StoreUnavailable (see `open_database`).
        """
        if self._home is None:
            self._home = threading.get_ident()
        await self._run(lambda db: None)

    def _connect(self) -> Database:
        if self._db is None:
            self._db = open_database(
                self._path, create=self._create, also_migrate=self._also_migrate
            )
        return self._db

    def _connect_reader(self) -> Database:
        if self._read_db is None:  # `_read` has had the writer make and migrate the file
            conn = sqlite3.connect(
                f"file:{quote(str(self._path.absolute()))}?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT_SECONDS,
            )
            self._read_db = Database(conn, execute_plugins=False)
        return self._read_db

    async def _run(self, fn: Callable[[Database], T]) -> T:
        """Run `fn` on the writer's connection, in its thread, within BUSY_TIMEOUT_SECONDS of
        this call: time spent queued behind other writes counts, so writes waiting for another
        process's lock fail together at the deadline instead of one after another.

        Issue 12: writes queued while the writer is busy are committed together
        (`sqlite_queues`); `fn`'s result or error is returned only once its write is
        committed."""
        return await self._writes.run(fn, time.monotonic() + BUSY_TIMEOUT_SECONDS)

    async def _read(self, fn: Callable[[Database], T]) -> T:
        """Run a read-only `fn` on the reader's connection, in its thread."""
        if self._db is None:
            await self.open()
        return await self._reads.run(fn)  # Issue 12: queued (sqlite_queues)

    async def _lookup(self, fn: Callable[[Database], T]) -> T:
        """Run a read-only `fn` that finds a few rows through an index (a binding by Slack
        user, a link by its nonce's hash, a session, a token).

        Issue 12: on the thread that opened the store (the app's event loop), such a read
        runs at once on a connection of that thread's own: it takes tens of microseconds,
        where handing it to the reader's thread and back took several times that, on every
        command. That connection never waits for a lock (busy timeout 0): should SQLite
        answer "busy" (a WAL recovery in progress), the read goes to the reader's thread as
        any other. On any other thread, it does from the start."""
        if self._db is None:
            await self.open()
        db = self._inline_reader()
        if db is not None:
            try:
                return fn(db)
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
        return await self._read(fn)

    def _inline_reader(self) -> Database | None:
        if self._closed or threading.get_ident() != self._home:
            return None
        if self._inline_db is None:
            conn = sqlite3.connect(
                f"file:{quote(str(self._path.absolute()))}?mode=rw",
                uri=True,
                timeout=0,
                check_same_thread=False,  # used on its thread only; closed from any
            )
            self._inline_db = Database(conn, execute_plugins=False)
        return self._inline_db

    async def close(self) -> None:
        """Close the connection; closing twice does nothing."""
        if self._closed:
            return
        self._closed = True

        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        def close_reader() -> None:
            if self._read_db is not None:
                self._read_db.close()
                self._read_db = None

        if self._inline_db is not None:
            self._inline_db.close()
            self._inline_db = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._reader, close_reader)
        await loop.run_in_executor(self._executor, close)
        await asyncio.to_thread(self._reader.shutdown, wait=True)
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    # Issue 11, health: /readyz's and /metrics' proof that the database can be written

    async def check_writable(self, seconds: float) -> None:
        """See `Store.check_writable`. The check runs in a thread of its own, on a connection
        of its own opened for it (so a file removed or made read-only since the start is
        seen, and the writer's queue neither delays it nor is delayed by it): BEGIN
        IMMEDIATE, waiting at most `seconds` for another connection's lock, then ROLLBACK.
        In WAL mode neither writes a page, so a full disk shows only at the next real
        write."""
        probe = self._write_probe
        if probe is None or probe.done():
            probe = self._write_probe = _started_write_probe(self._path, seconds)
        try:
            # The thread's own busy timeout ends it in `seconds`; the margin is for a disk
            # that does not answer at all, which the thread cannot be woken from.
            await asyncio.wait_for(asyncio.shield(probe), seconds + WRITE_PROBE_MARGIN_SECONDS)
        except TimeoutError:
            raise StoreBusy() from None

    _write_probe: asyncio.Future[None] | None = None


# Issue 11, health: the write probe behind `SQLiteDatabase.check_writable`

#: How long past its own deadline a write probe is awaited before it counts as busy.
WRITE_PROBE_MARGIN_SECONDS = 0.5


def _started_write_probe(path: Path, seconds: float) -> asyncio.Future[None]:
    """`_take_write_lock(path, seconds)` in a daemon thread; its outcome as a future of the
    running loop. A thread per probe (one at a time: callers share a running one) rather
    than an executor, so that nothing is left to shut down and a hung disk holds no pool."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            _take_write_lock(path, seconds)
        except Exception as raised:  # handed to the loop, where the caller sees it
            error = raised
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, error)

    # The outcome is read even when every caller stopped waiting (no "never retrieved").
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
    threading.Thread(target=run, name="sqlite-write-probe", daemon=True).start()
    return future


def _take_write_lock(path: Path, seconds: float) -> None:
    """BEGIN IMMEDIATE and ROLLBACK on a new connection to `path` (never creating it),
    waiting at most `seconds` for the lock. Raises StoreBusy or StoreUnavailable."""
    try:
        conn = sqlite3.connect(
            f"file:{quote(str(path.absolute()))}?mode=rw",
            uri=True,
            timeout=max(seconds, 0.001),
            isolation_level=None,
        )
    except sqlite3.Error as error:
        raise StoreUnavailable(path, _reason(error)) from None
    try:
        probe_write(conn, path)
    finally:
        conn.close()


def probe_write(conn: sqlite3.Connection, path: Path) -> None:
    """Take the write lock on `conn` (autocommit) and write, then roll back: nothing changes.
    A file SQLite could only open read-only (a read-only file or file system, another
    owner) takes BEGIN IMMEDIATE without a word; only a write shows it, so the probe
    rewrites `user_version` with its own value. Raises StoreBusy or StoreUnavailable."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            conn.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.Error as error:
        if _is_busy(error):
            raise StoreBusy() from None
        raise StoreUnavailable(path, _reason(error)) from None


class SQLiteStore(SQLiteDatabase):
    """The domain's `Store` on the SQLite file (see `SQLiteDatabase` for its threads)."""

    # internal users

    async def create_user(self, username: str, email: str, password_hash: str, now: int) -> User:
        def create(db: Database) -> User:
            try:
                with _write(db):
                    # Checked under the write lock, so two concurrent adds cannot both pass.
                    if _one(db, "SELECT id FROM users WHERE username = ?", [username]):
                        raise UsernameTaken(username)
                    if _one(db, "SELECT id FROM users WHERE email = ? COLLATE NOCASE", [email]):
                        raise EmailTaken(email)
                    cursor = db.execute(
                        "INSERT INTO users (username, email, password_hash, created_at) "
                        "VALUES (?, ?, ?, ?)",
                        [username, email, password_hash, now],
                    )
            except sqlite3.IntegrityError:
                raise UsernameTaken(username) from None
            assert cursor.lastrowid is not None
            return User(id=cursor.lastrowid, username=username, email=email, created_at=now)

        return await self._run(create)

    async def get_user(self, user_id: int) -> User | None:
        row = await self._lookup(lambda db: _one(db, "SELECT * FROM users WHERE id = ?", [user_id]))
        return _user(row) if row else None

    async def find_credentials(self, username: str) -> tuple[User, str] | None:
        row = await self._lookup(
            lambda db: _one(db, "SELECT * FROM users WHERE username = ?", [username])
        )
        return (_user(row), row["password_hash"]) if row else None

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        def update(db: Database) -> None:
            with _write(db):
                db.execute(
                    "UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id]
                )

        await self._run(update)

    async def list_users(self) -> list[User]:
        rows = await self._read(lambda db: _all(db, "SELECT * FROM users ORDER BY username", []))
        return [_user(row) for row in rows]

    # binding links

    async def add_binding_request(
        self,
        nonce_hash: str,
        identity: SlackIdentity,
        profile: SlackProfile,
        now: int,
        expires_at: int,
        limit: LinkLimit | None = None,
        *,
        resume_text: str | None = None,
        resume_response_url: str | None = None,
    ) -> None:
        def add(db: Database) -> None:
            with _write(db):
                if limit is not None:
                    recent = _one(
                        db,
                        "SELECT count(*) AS n, min(created_at) AS oldest FROM binding_requests "
                        "WHERE scope_id = ? AND slack_user_id = ? AND created_at >= ?",
                        [identity.scope_id, identity.user_id, limit.since],
                    )
                    assert recent is not None
                    if recent["n"] >= limit.count:
                        raise LinkRateLimited(max(1, recent["oldest"] + limit.window - now))
                db.execute(
                    "UPDATE binding_requests SET used_at = ?, ended_reason = 'replaced' "
                    "WHERE scope_id = ? AND slack_user_id = ? AND used_at IS NULL",
                    [now, identity.scope_id, identity.user_id],
                )
                db.execute(
                    "INSERT INTO binding_requests (nonce_hash, scope_id, slack_user_id, team_id, "
                    "enterprise_id, user_name, team_name, app_id, command, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        nonce_hash,
                        identity.scope_id,
                        identity.user_id,
                        identity.team_id,
                        identity.enterprise_id,
                        profile.user_name,
                        profile.team_name,
                        profile.app_id,
                        profile.command,
                        now,
                        expires_at,
                    ],
                )
                # Issue 10, resume: a newer link replaces the older ones' commands too.
                _keep_resume(db, nonce_hash, identity, resume_text, resume_response_url)

        await self._run(add)

    async def get_binding_request(self, nonce_hash: str) -> BindingRequest | None:
        row = await self._lookup(
            lambda db: _one(db, "SELECT * FROM binding_requests WHERE nonce_hash = ?", [nonce_hash])
        )
        return _binding_request(row) if row else None

    async def complete_binding(
        self,
        nonce_hash: str,
        user_id: int,
        now: int,
        api_token_hash: str | None,
        api_token_ciphertext: str | None,
        real_name: str | None = None,
        api_token_expires_at: int | None = None,
        grant: NewGrant | None = None,
        notice: NoticeKind | None = None,
    ) -> Binding:
        if (api_token_hash is None) != (api_token_ciphertext is None):
            raise ValueError("a token's hash and ciphertext come together, or neither")

        def complete(db: Database) -> Binding:
            with _write(db):
                # The first statement writes, so this transaction holds the write lock from
                # here on: of two concurrent confirmations, exactly one sees the row unused.
                consumed = _one(
                    db,
                    "UPDATE binding_requests SET used_at = ?, ended_reason = 'bound' "
                    "WHERE nonce_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *",
                    [now, nonce_hash, now],
                )
                if consumed is None:
                    row = _one(
                        db, "SELECT * FROM binding_requests WHERE nonce_hash = ?", [nonce_hash]
                    )
                    if row is None:
                        raise LinkNotFound()
                    if row["used_at"] is not None:
                        raise LinkUsed()
                    raise LinkExpired()
                request = _binding_request(consumed)
                identity = request.identity
                bound = _one(
                    db,
                    "SELECT id FROM bindings WHERE scope_id = ? AND slack_user_id = ?",
                    [identity.scope_id, identity.user_id],
                )
                if bound is not None:
                    raise AlreadyBound()  # rolls the whole transaction back: the link stays unused
                # Issue 10, lifecycle: nothing binds to a disabled or removed user (checked under
                # the write lock, so a concurrent disable cannot slip in between), and binding
                # forgets why the Slack person's previous binding ended.
                owner = _one(db, "SELECT disabled_at FROM users WHERE id = ?", [user_id])
                if owner is None or owner["disabled_at"] is not None:
                    raise AccountDisabled(removed=owner is None)
                db.execute(
                    "DELETE FROM ended_bindings WHERE scope_id = ? AND slack_user_id = ?",
                    [identity.scope_id, identity.user_id],
                )
                token_id = None
                if api_token_hash is not None:
                    token = db.execute(
                        "INSERT INTO api_tokens (user_id, token_hash, label, created_at, "
                        "expires_at) VALUES (?, ?, ?, ?, ?)",
                        [
                            user_id,
                            api_token_hash,
                            f"Slack {identity.scope_id}/{identity.user_id}",
                            now,
                            api_token_expires_at,
                        ],
                    )
                    token_id = token.lastrowid
                    assert token_id is not None
                binding = db.execute(
                    "INSERT INTO bindings (user_id, scope_id, slack_user_id, team_id, enterprise_id, "
                    "user_name, team_name, app_id, real_name, api_token_id, api_token_ciphertext, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        user_id,
                        identity.scope_id,
                        identity.user_id,
                        identity.team_id,
                        identity.enterprise_id,
                        request.profile.user_name,
                        request.profile.team_name,
                        request.profile.app_id,
                        real_name,
                        token_id,
                        api_token_ciphertext,
                        now,
                    ],
                )
                assert binding.lastrowid is not None
                if grant is not None:
                    _insert_grant(db, binding.lastrowid, grant, now)
                made = Binding(
                    id=binding.lastrowid,
                    user_id=user_id,
                    identity=identity,
                    profile=replace(request.profile, real_name=real_name),
                    api_token_id=token_id,
                    created_at=now,
                )
                if notice is not None:  # Issue 11, outbox: the DM, in this transaction
                    username = sqlite_outbox.username_of(db, user_id)
                    sqlite_outbox.enqueue(db, notice, made, {"username": username}, now)
                return made

        return self._outbox_written(await self._run(complete), notice)

    async def void_binding_request(
        self, nonce_hash: str, now: int, reason: str = "refused"
    ) -> None:
        def void(db: Database) -> None:
            with _write(db):
                db.execute(
                    "UPDATE binding_requests SET used_at = ?, ended_reason = ? "
                    "WHERE nonce_hash = ? AND used_at IS NULL",
                    [now, reason, nonce_hash],
                )

        await self._run(void)

    async def purge_binding_requests(self, expired_before: int) -> int:
        def purge(db: Database) -> int:
            with _write(db):
                return db.execute(
                    "DELETE FROM binding_requests WHERE expires_at < ?", [expired_before]
                ).rowcount

        return await self._run(purge)

    # bindings

    async def find_binding(self, identity: SlackIdentity) -> StoredBinding | None:
        row = await self._lookup(
            lambda db: _one(
                db,
                "SELECT bindings.*, users.username AS u_username, users.email AS u_email, "
                "users.created_at AS u_created_at, api_tokens.expires_at AS token_expires_at, "
                "api_tokens.created_at AS token_issued_at "
                "FROM bindings JOIN users ON users.id = bindings.user_id "
                "LEFT JOIN api_tokens ON api_tokens.id = bindings.api_token_id "
                "WHERE bindings.scope_id = ? AND bindings.slack_user_id = ?",
                [identity.scope_id, identity.user_id],
            )
        )
        if row is None:
            return None
        user = User(
            id=row["user_id"],
            username=row["u_username"],
            email=row["u_email"],
            created_at=row["u_created_at"],
        )
        return StoredBinding(
            _binding(row),
            row["api_token_ciphertext"],
            user,
            row["token_expires_at"],
            api_token_issued_at=row["token_issued_at"],
        )

    async def bindings_of(self, user_id: int) -> list[Binding]:
        rows = await self._read(
            lambda db: _all(db, "SELECT * FROM bindings WHERE user_id = ? ORDER BY id", [user_id])
        )
        return [_binding(row) for row in rows]

    async def remove_binding(self, identity: SlackIdentity, now: int) -> Binding | None:
        removed = await self.remove_binding_and_grant(identity, now)
        return removed.binding if removed is not None else None

    # personal API tokens

    async def find_token(
        self, api_token_hash: str, now: int, validity: TokenValidity
    ) -> IssuedToken | None:
        row = await self._lookup(
            lambda db: _one(
                db,
                "SELECT users.*, api_tokens.created_at AS issued_at, api_tokens.expires_at "
                "FROM api_tokens JOIN users ON users.id = api_tokens.user_id "
                "AND users.disabled_at IS NULL "  # Issue 10, lifecycle: never a disabled user's
                "WHERE api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL",
                [api_token_hash],
            )
        )
        if row is None:
            return None
        issued_at, stored_expires_at = row["issued_at"], row["expires_at"]
        if not validity.honours(issued_at, stored_expires_at, now):
            return None
        return IssuedToken(
            user=_user(row),
            issued_at=issued_at,
            expires_at=validity.expires_at(issued_at, stored_expires_at),
        )

    # sessions

    async def create_session(
        self,
        token_hash: str,
        user_id: int,
        csrf_token: str,
        now: int,
        link_hash: str | None = None,
        keep_at_most: int | None = None,
    ) -> None:
        def create(db: Database) -> None:
            with _write(db):
                db.execute(
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, "
                    "last_seen_at, link_hash) VALUES (?, ?, ?, ?, ?, ?)",
                    [token_hash, user_id, csrf_token, now, now, link_hash],
                )
                if keep_at_most is not None:
                    db.execute(
                        "DELETE FROM sessions WHERE user_id = ? AND rowid NOT IN (SELECT rowid "
                        "FROM sessions WHERE user_id = ? ORDER BY created_at DESC, rowid DESC "
                        "LIMIT ?)",
                        [user_id, user_id, keep_at_most],
                    )

        await self._run(create)

    async def get_session(self, token_hash: str) -> Session | None:
        row = await self._lookup(
            lambda db: _one(db, "SELECT * FROM sessions WHERE token_hash = ?", [token_hash])
        )
        if row is None:
            return None
        return Session(
            user_id=row["user_id"],
            csrf_token=row["csrf_token"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            link_hash=row["link_hash"],
            slack_verified_link_hash=row["slack_verified_link_hash"],
        )

    async def touch_session(self, token_hash: str, now: int) -> None:
        def touch(db: Database) -> None:
            with _write(db):
                db.execute(
                    "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", [now, token_hash]
                )

        await self._run(touch)

    async def delete_session(self, token_hash: str) -> None:
        def delete(db: Database) -> None:
            with _write(db):
                db.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])

        await self._run(delete)

    # the audit log

    async def add_audit(self, record: AuditRecord) -> None:
        def add(db: Database) -> None:
            with _write(db):
                _insert_audit(db, record)

        await self._run(add)

    async def add_audit_capped(self, record: AuditRecord, limit: int, since: int) -> bool:
        def add(db: Database) -> bool:
            with _write(db):
                (count,) = db.execute(
                    "SELECT count(*) FROM audit_events WHERE event = ? AND at >= ? "
                    "AND detail IS ? AND client IS ?",
                    [record.event, since, record.detail, record.client],
                ).fetchone()
                if count >= limit:
                    return False
                _insert_audit(db, record)
                return True

        return await self._run(add)

    async def purge_audit(self, before: int) -> int:
        def purge(db: Database) -> int:
            with _write(db):
                return db.execute("DELETE FROM audit_events WHERE at < ?", [before]).rowcount

        return await self._run(purge)

    async def list_audit(self, where: AuditFilter) -> list[AuditRecord]:
        clauses, params = [], []
        for column, value in (
            ("event = ?", where.event),
            ("username = ?", where.username),
            ("slack_user_id = ?", where.slack_user_id),
            ("scope_id = ?", where.scope_id),
            ("at >= ?", where.since),
        ):
            if value is not None:
                clauses.append(column)
                params.append(value)
        sql = "SELECT * FROM audit_events"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)  # only the fixed clauses above
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(where.limit)
        rows = await self._read(lambda db: _all(db, sql, params))
        return [_audit(row) for row in rows]

    # failed logins

    async def reserve_login_attempt(
        self, limits: dict[str, int], now: int, since: int
    ) -> LoginAttempt:
        def reserve(db: Database) -> LoginAttempt:
            with _write(db):
                at_limit = []
                for key, limit in limits.items():
                    (count,) = db.execute(
                        "SELECT count(*) FROM login_failures WHERE key = ? AND at >= ?",
                        [key, since],
                    ).fetchone()
                    if count >= limit:
                        at_limit.append(key)
                if at_limit:
                    first = False
                    for key in at_limit:
                        # A refusal is noted once per key and window, as a row of its own key.
                        noted = "refused:" + key
                        if not _one(
                            db,
                            "SELECT id FROM login_failures WHERE key = ? AND at >= ?",
                            [noted, since],
                        ):
                            db.execute(
                                "INSERT INTO login_failures (key, at) VALUES (?, ?)", [noted, now]
                            )
                            first = True
                    return LoginAttempt(ids=None, first_refusal=first)
                ids = []
                for key in limits:
                    cursor = db.execute(
                        "INSERT INTO login_failures (key, at) VALUES (?, ?)", [key, now]
                    )
                    assert cursor.lastrowid is not None
                    ids.append(cursor.lastrowid)
                return LoginAttempt(ids=ids)

        return await self._run(reserve)

    async def forget_login_attempt(self, attempt_ids: list[int], clear_key: str) -> None:
        def forget(db: Database) -> None:
            with _write(db):
                db.conn.executemany(
                    "DELETE FROM login_failures WHERE id = ?", [[i] for i in attempt_ids]
                )
                db.execute("DELETE FROM login_failures WHERE key = ?", [clear_key])

        await self._run(forget)

    async def count_login_failures(self, key: str, since: int) -> int:
        row = await self._read(
            lambda db: _one(
                db,
                "SELECT count(*) AS n FROM login_failures WHERE key = ? AND at >= ?",
                [key, since],
            )
        )
        return int(row["n"]) if row else 0

    async def purge_login_failures(self, before: int) -> None:
        def purge(db: Database) -> None:
            with _write(db):
                db.execute("DELETE FROM login_failures WHERE at < ?", [before])

        await self._run(purge)

    async def delete_sessions_of(self, user_id: int) -> None:
        def delete(db: Database) -> None:
            with _write(db):
                db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])

        await self._run(delete)

    async def purge_sessions(self, idle_before: int, created_before: int) -> None:
        def purge(db: Database) -> None:
            with _write(db):
                db.execute(
                    "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?",
                    [idle_before, created_before],
                )

        await self._run(purge)

    # Who users are at OpenID providers and proxies (user_identities)

    async def find_user_by_identity(self, issuer: str, subject: str) -> User | None:
        row = await self._lookup(
            lambda db: _one(
                db,
                "SELECT users.* FROM user_identities JOIN users ON users.id = "
                "user_identities.user_id WHERE issuer = ? AND subject = ?",
                [issuer, subject],
            )
        )
        return _user(row) if row else None

    async def create_external_user(
        self, username: str, email: str, issuer: str, subject: str, now: int
    ) -> User:
        def create(db: Database) -> User:
            try:
                with _write(db):
                    if _one(db, "SELECT id FROM users WHERE username = ?", [username]):
                        raise UsernameTaken(username)
                    # "" is no address (a provider or proxy that gave none): it clashes with
                    # nothing, or a second such person could never sign in.
                    if email and _one(
                        db, "SELECT 1 AS taken FROM users WHERE email = ? COLLATE NOCASE", [email]
                    ):
                        raise EmailTaken(email)
                    if _one(
                        db,
                        "SELECT id FROM user_identities WHERE issuer = ? AND subject = ?",
                        [issuer, subject],
                    ):
                        raise IdentityTaken()
                    cursor = db.execute(
                        "INSERT INTO users (username, email, password_hash, created_at) "
                        "VALUES (?, ?, ?, ?)",
                        [username, email, NO_PASSWORD, now],
                    )
                    assert cursor.lastrowid is not None
                    db.execute(
                        "INSERT INTO user_identities (user_id, issuer, subject, created_at) "
                        "VALUES (?, ?, ?, ?)",
                        [cursor.lastrowid, issuer, subject, now],
                    )
            except sqlite3.IntegrityError:
                raise UsernameTaken(username) from None
            return User(id=cursor.lastrowid, username=username, email=email, created_at=now)

        return await self._run(create)

    async def add_user_identity(self, user_id: int, issuer: str, subject: str, now: int) -> None:
        def add(db: Database) -> None:
            with _write(db):
                row = _one(
                    db,
                    "SELECT user_id FROM user_identities WHERE issuer = ? AND subject = ?",
                    [issuer, subject],
                )
                if row is not None:
                    if row["user_id"] != user_id:
                        raise IdentityTaken()
                    return
                db.execute(
                    "INSERT INTO user_identities (user_id, issuer, subject, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    [user_id, issuer, subject, now],
                )

        await self._run(add)

    async def set_user_email(self, user_id: int, email: str) -> None:
        def update(db: Database) -> None:
            with _write(db):
                if _one(
                    db,
                    "SELECT id FROM users WHERE email = ? COLLATE NOCASE AND id != ?",
                    [email, user_id],
                ):
                    raise EmailTaken(email)
                db.execute("UPDATE users SET email = ? WHERE id = ?", [email, user_id])

        await self._run(update)

    # Authorization flows under way (account_binding.authorization_flows)

    async def add_authorization_flow(self, flow: StoredFlow) -> None:
        def add(db: Database) -> None:
            with _write(db):
                db.execute(
                    "INSERT INTO authorization_flows (state_hash, purpose, browser_hash, nonce, "
                    "code_verifier, next_path, link_hash, session_hash, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        flow.state_hash,
                        flow.purpose,
                        flow.browser_hash,
                        flow.nonce,
                        flow.code_verifier,
                        flow.next_path,
                        flow.link_hash,
                        flow.session_hash,
                        flow.created_at,
                        flow.expires_at,
                    ],
                )

        await self._run(add)

    async def take_authorization_flow(self, state_hash: str, now: int) -> StoredFlow | None:
        def take(db: Database) -> StoredFlow | None:
            with _write(db):
                row = _one(
                    db,
                    "SELECT * FROM authorization_flows WHERE state_hash = ? AND used_at IS NULL",
                    [state_hash],
                )
                if row is None:
                    return None
                db.execute(
                    "UPDATE authorization_flows SET used_at = ? WHERE state_hash = ?",
                    [now, state_hash],
                )
            return StoredFlow(
                state_hash=row["state_hash"],
                purpose=row["purpose"],
                browser_hash=row["browser_hash"],
                nonce=row["nonce"],
                code_verifier=row["code_verifier"],
                next_path=row["next_path"],
                link_hash=row["link_hash"],
                session_hash=row["session_hash"],
                created_at=row["created_at"],
                expires_at=row["expires_at"],
            )

        return await self._run(take)

    async def purge_authorization_flows(self, expired_before: int) -> int:
        def purge(db: Database) -> int:
            with _write(db):
                cursor = db.execute(
                    "DELETE FROM authorization_flows WHERE expires_at < ?", [expired_before]
                )
            return int(cursor.rowcount)

        return await self._run(purge)

    # Sign in with Slack (VERIFY_SLACK_IDENTITY): the session's proof of the link's Slack
    # identity (account_binding.slack_proof)

    async def set_session_slack_verified(self, token_hash: str, link_hash: str) -> None:
        def record(db: Database) -> None:
            with _write(db):
                db.execute(
                    "UPDATE sessions SET slack_verified_link_hash = ? WHERE token_hash = ?",
                    [link_hash, token_hash],
                )

        await self._run(record)

    # ACT_AS=oauth2: the bindings' OAuth grants and the sessions' pending grants
    # (account_binding.oauth_grants)

    async def get_oauth_grant(self, binding_id: int) -> StoredGrant | None:
        row = await self._lookup(
            lambda db: _one(db, "SELECT * FROM oauth_grants WHERE binding_id = ?", [binding_id])
        )
        return _grant(row) if row else None

    async def lease_oauth_grant_refresh(
        self, binding_id: int, now: int, until: int
    ) -> StoredGrant | None:
        def lease(db: Database) -> StoredGrant | None:
            with _write(db):
                # One conditional write: of two processes asking at once, one takes the lease.
                row = _one(
                    db,
                    "UPDATE oauth_grants SET refreshing_until = ? WHERE binding_id = ? "
                    "AND (refreshing_until IS NULL OR refreshing_until <= ?) RETURNING *",
                    [until, binding_id, now],
                )
            return _grant(row) if row else None

        return await self._run(lease)

    async def store_refreshed_oauth_grant(
        self, binding_id: int, lease: int, tokens: RefreshedTokens, now: int
    ) -> bool:
        def store(db: Database) -> bool:
            with _write(db):
                cursor = db.execute(
                    "UPDATE oauth_grants SET access_token_ciphertext = ?, "
                    "refresh_token_ciphertext = ?, expires_at = ?, scope = ?, updated_at = ?, "
                    "refreshing_until = NULL WHERE binding_id = ? AND refreshing_until = ?",
                    [
                        tokens.access_token_ciphertext,
                        tokens.refresh_token_ciphertext,
                        tokens.expires_at,
                        tokens.scope,
                        now,
                        binding_id,
                        lease,
                    ],
                )
            return bool(cursor.rowcount)

        return await self._run(store)

    async def release_oauth_grant_refresh(self, binding_id: int, lease: int) -> None:
        def release(db: Database) -> None:
            with _write(db):
                db.execute(
                    "UPDATE oauth_grants SET refreshing_until = NULL "
                    "WHERE binding_id = ? AND refreshing_until = ?",
                    [binding_id, lease],
                )

        await self._run(release)

    async def remove_binding_and_grant(
        self, identity: SlackIdentity, now: int, notice: NoticeKind | None = None
    ) -> RemovedBinding | None:
        def remove(db: Database) -> RemovedBinding | None:
            with _write(db):
                # The grant first: it refers to the binding (foreign keys are on).
                grant = _one(
                    db,
                    "DELETE FROM oauth_grants WHERE binding_id IN (SELECT id FROM bindings "
                    "WHERE scope_id = ? AND slack_user_id = ?) RETURNING *",
                    [identity.scope_id, identity.user_id],
                )
                row = _one(
                    db,
                    "DELETE FROM bindings WHERE scope_id = ? AND slack_user_id = ? RETURNING *",
                    [identity.scope_id, identity.user_id],
                )
                if row is None:
                    return None
                db.execute(
                    "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    [now, row["api_token_id"]],
                )
                removed = _binding(row)
                if notice is not None:  # Issue 11, outbox: the DM, in this transaction
                    username = sqlite_outbox.username_of(db, removed.user_id)
                    sqlite_outbox.enqueue(db, notice, removed, {"username": username}, now)
                return RemovedBinding(removed, _grant(grant) if grant else None)

        return self._outbox_written(await self._run(remove), notice)

    async def keep_session_grant(self, token_hash: str, grant_ciphertext: str) -> bool:
        def keep(db: Database) -> bool:
            with _write(db):
                cursor = db.execute(
                    "UPDATE sessions SET grant_ciphertext = ? WHERE token_hash = ?",
                    [grant_ciphertext, token_hash],
                )
            return bool(cursor.rowcount)

        return await self._run(keep)

    async def take_session_grant(self, token_hash: str) -> str | None:
        def take(db: Database) -> str | None:
            with _write(db):
                row = _one(
                    db, "SELECT grant_ciphertext FROM sessions WHERE token_hash = ?", [token_hash]
                )
                if row is None or row["grant_ciphertext"] is None:
                    return None
                db.execute(
                    "UPDATE sessions SET grant_ciphertext = NULL WHERE token_hash = ?",
                    [token_hash],
                )
            return str(row["grant_ciphertext"])

        return await self._run(take)

    # Issue 10, lifecycle: Slack's lifecycle events and internal users disabled or removed
    # (account_binding.lifecycle)

    async def note_slack_event(self, event_id: str, now: int) -> bool:
        def note(db: Database) -> bool:
            with _write(db):
                cursor = db.execute(
                    "INSERT OR IGNORE INTO slack_events (event_id, received_at) VALUES (?, ?)",
                    [event_id, now],
                )
            return bool(cursor.rowcount)

        return await self._run(note)

    async def purge_slack_events(self, received_before: int) -> int:
        def purge(db: Database) -> int:
            with _write(db):
                cursor = db.execute(
                    "DELETE FROM slack_events WHERE received_at < ?", [received_before]
                )
            return int(cursor.rowcount)

        return await self._run(purge)

    # Issue 11, socket: each Events API delivery acts once (account_binding.deliveries)

    async def slack_event_noted(self, event_id: str) -> bool:
        row = await self._lookup(
            lambda db: _one(
                db, "SELECT 1 AS noted FROM slack_events WHERE event_id = ?", [event_id]
            )
        )
        return row is not None

    async def remove_slack_bindings(self, where: SlackSelection, now: int) -> list[RemovedBinding]:
        clause, params = _selected(where)

        def remove(db: Database) -> list[RemovedBinding]:
            with _write(db):
                removed = _remove_bindings(db, clause, params, now)
                db.execute(
                    "UPDATE binding_requests SET used_at = ?, ended_reason = 'ended' "  # noqa: S608 - a fixed clause
                    f"WHERE ({clause}) AND used_at IS NULL",
                    [now, *params],
                )
            return removed

        return await self._run(remove)

    async def disable_user(
        self, user_id: int, now: int, notice: NoticeKind | None = None
    ) -> EndedUser | None:
        def disable(db: Database) -> EndedUser | None:
            with _write(db):
                row = _one(db, "SELECT * FROM users WHERE id = ?", [user_id])
                if row is None:
                    return None
                db.execute(
                    "UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL",
                    [now, user_id],
                )
                removed = _remove_bindings(db, "user_id = ?", [user_id], now)
                db.execute(
                    "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                    [now, user_id],
                )
                db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])
                _note_ended(db, removed, user_id, row["username"], "disabled", now)
                _enqueue_ended(db, notice, removed, row["username"], "disabled", now)
            return EndedUser(user=_user(row), removed=removed)

        return self._outbox_written(await self._run(disable), notice)

    async def enable_user(self, user_id: int) -> bool:
        def enable(db: Database) -> bool:
            with _write(db):
                cursor = db.execute(
                    "UPDATE users SET disabled_at = NULL WHERE id = ? AND disabled_at IS NOT NULL",
                    [user_id],
                )
                db.execute(
                    "DELETE FROM ended_bindings WHERE user_id = ? AND reason = 'disabled'",
                    [user_id],
                )
            return bool(cursor.rowcount)

        return await self._run(enable)

    async def delete_user(
        self, user_id: int, now: int, notice: NoticeKind | None = None
    ) -> EndedUser | None:
        def delete(db: Database) -> EndedUser | None:
            with _write(db):
                row = _one(db, "SELECT * FROM users WHERE id = ?", [user_id])
                if row is None:
                    return None
                removed = _remove_bindings(db, "user_id = ?", [user_id], now)
                _note_ended(db, removed, user_id, row["username"], "removed", now)
                _enqueue_ended(db, notice, removed, row["username"], "removed", now)
                # Those told the account was disabled are now told it was removed; the user
                # ID goes, as SQLite may give it to the next account made.
                db.execute(
                    "UPDATE ended_bindings SET reason = 'removed', user_id = NULL, ended_at = ? "
                    "WHERE user_id = ?",
                    [now, user_id],
                )
                for table, column in _tables_referring_to_users(db):
                    # Names read from the schema, not from any input.
                    db.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', [user_id])  # noqa: S608
                db.execute("DELETE FROM users WHERE id = ?", [user_id])
            return EndedUser(user=_user(row), removed=removed)

        return self._outbox_written(await self._run(delete), notice)

    async def ended_binding(self, identity: SlackIdentity) -> EndedBinding | None:
        row = await self._lookup(
            lambda db: _one(
                db,
                "SELECT * FROM ended_bindings WHERE scope_id = ? AND slack_user_id = ?",
                [identity.scope_id, identity.user_id],
            )
        )
        return EndedBinding(**row) if row else None

    # Issue 10, unbinding: one binding removed by its public ID; when a binding was last used

    async def remove_binding_by_public_id(
        self,
        public_id: str,
        now: int,
        *,
        user_id: int | None = None,
        identity: SlackIdentity | None = None,
        notice: NoticeKind | None = None,
    ) -> RemovedBinding | None:
        if user_id is None and identity is None:
            raise ValueError("a binding is removed by its public ID only for its owner")
        # Each owner condition holds when its value is not given (NULL).
        scope_id, slack_user_id = (
            (identity.scope_id, identity.user_id) if identity else (None, None)
        )
        params = [public_id, user_id, user_id, scope_id, scope_id, slack_user_id]

        def remove(db: Database) -> RemovedBinding | None:
            with _write(db):
                # The grant first: it refers to the binding (foreign keys are on).
                grant = _one(
                    db,
                    "DELETE FROM oauth_grants WHERE binding_id IN (SELECT id FROM bindings "
                    "WHERE public_id = ? AND (? IS NULL OR user_id = ?) "
                    "AND (? IS NULL OR (scope_id = ? AND slack_user_id = ?))) RETURNING *",
                    params,
                )
                row = _one(
                    db,
                    "DELETE FROM bindings WHERE public_id = ? AND (? IS NULL OR user_id = ?) "
                    "AND (? IS NULL OR (scope_id = ? AND slack_user_id = ?)) RETURNING *",
                    params,
                )
                if row is None:
                    return None
                db.execute(  # its token stops working in the same transaction
                    "UPDATE api_tokens SET revoked_at = ? WHERE id IS ? AND revoked_at IS NULL",
                    [now, row["api_token_id"]],
                )
                removed = _binding(row)
                if notice is not None:  # Issue 11, outbox: the DM, in this transaction
                    username = sqlite_outbox.username_of(db, removed.user_id)
                    sqlite_outbox.enqueue(db, notice, removed, {"username": username}, now)
                return RemovedBinding(removed, _grant(grant) if grant else None)

        return self._outbox_written(await self._run(remove), notice)

    async def note_binding_used(
        self, binding_id: int, public_id: str, now: int, not_since: int
    ) -> bool:
        def note(db: Database) -> bool:
            with _write(db):
                cursor = db.execute(
                    "UPDATE bindings SET last_used_at = ? WHERE id = ? AND public_id = ? "
                    "AND (last_used_at IS NULL OR last_used_at < ?)",
                    [now, binding_id, public_id, not_since],
                )
            return bool(cursor.rowcount)

        return await self._run(note)

    # Issue 10, never a dead button: "Send me a new link in Slack"

    async def resend_binding_request(
        self,
        old_hash: str,
        new_hash: str,
        now: int,
        expires_at: int,
        *,
        limit: LinkLimit,
        resend_after: int,
    ) -> ResendOutcome:
        def resend(db: Database) -> ResendOutcome:
            with _write(db):
                row = _one(db, "SELECT * FROM binding_requests WHERE nonce_hash = ?", [old_hash])
                if row is None:
                    return ResendOutcome("unknown", None)
                old = _binding_request(row)
                if old.used_at is not None:
                    ended = old.ended_reason
                    return ResendOutcome("used" if ended in (None, "bound") else ended, old)
                if old.expires_at > now:
                    return ResendOutcome("live", old)
                identity = old.identity
                key = [identity.scope_id, identity.user_id]
                bound = _one(
                    db, "SELECT id FROM bindings WHERE scope_id = ? AND slack_user_id = ?", key
                )
                if bound is not None:
                    return ResendOutcome("bound", old)
                recent = _one(
                    db,
                    "SELECT count(*) AS n, min(created_at) AS oldest FROM binding_requests "
                    "WHERE scope_id = ? AND slack_user_id = ? AND created_at >= ?",
                    [*key, limit.since],
                )
                assert recent is not None
                if limit.count <= recent["n"]:
                    raise LinkRateLimited(max(1, recent["oldest"] + limit.window - now))
                # The check and the claim of this minute's resend are one conditional write.
                claimed = db.execute(
                    "INSERT INTO link_resends (scope_id, slack_user_id, sent_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (scope_id, slack_user_id) DO UPDATE SET sent_at = excluded.sent_at "
                    "WHERE link_resends.sent_at <= ?",
                    [*key, now, now - resend_after],
                ).rowcount
                if not claimed:
                    last = _one(
                        db,
                        "SELECT sent_at FROM link_resends WHERE scope_id = ? AND slack_user_id = ?",
                        key,
                    )
                    assert last is not None
                    return ResendOutcome(
                        "too_soon", old, max(1, last["sent_at"] + resend_after - now)
                    )
                db.execute(
                    "UPDATE binding_requests SET used_at = ?, ended_reason = 'replaced' "
                    "WHERE used_at IS NULL AND scope_id = ? AND slack_user_id = ?",
                    [now, *key],
                )
                db.execute(
                    "INSERT INTO binding_requests (nonce_hash, scope_id, slack_user_id, team_id, "
                    "enterprise_id, user_name, team_name, app_id, command, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        new_hash,
                        *key,
                        identity.team_id,
                        identity.enterprise_id,
                        old.profile.user_name,
                        old.profile.team_name,
                        old.profile.app_id,
                        old.profile.command,
                        now,
                        expires_at,
                    ],
                )
                # The older links' commands (and response_urls) go with them, as when a
                # command issues a link; the resent link keeps none.
                _keep_resume(db, new_hash, identity, None, None)
                return ResendOutcome(None, old)

        return await self._run(resend)

    # Issue 10, Enterprise Grid: a workspace that joined an organisation keeps its bindings

    async def rekey_to_organisation(
        self,
        identity: SlackIdentity,
        now: int,
        team_name: str | None = None,
        notice: NoticeKind | None = None,
    ) -> Rekeyed:
        organisation, workspace, user = identity.scope_id, identity.team_id, identity.user_id
        if identity.enterprise_id is None or organisation == workspace:
            return Rekeyed()
        key = [workspace, user]

        def anything_keyed_on_the_workspace(db: Database) -> bool:
            row = _one(
                db,
                "SELECT EXISTS (SELECT 1 FROM bindings WHERE scope_id = ? AND slack_user_id = ?) "
                "OR EXISTS (SELECT 1 FROM binding_requests WHERE scope_id = ? AND "
                "slack_user_id = ?) OR EXISTS (SELECT 1 FROM ended_bindings WHERE scope_id = ? "
                "AND slack_user_id = ?) OR EXISTS (SELECT 1 FROM link_resends WHERE "
                "scope_id = ? AND slack_user_id = ?) AS found",
                key * 4,
            )
            return bool(row and row["found"])

        # Nearly always nothing is: one read, no write lock, on every command from a Grid user.
        if not await self._lookup(anything_keyed_on_the_workspace):
            return Rekeyed()

        def rekey(db: Database) -> Rekeyed:
            with _write(db):
                old = _one(
                    db, "SELECT * FROM bindings WHERE scope_id = ? AND slack_user_id = ?", key
                )
                current = _one(
                    db,
                    "SELECT * FROM bindings WHERE scope_id = ? AND slack_user_id = ?",
                    [organisation, user],
                )
                moved = kept = removed = None
                if old is not None:
                    keep_old = current is None or (old["created_at"], old["id"]) < (
                        current["created_at"],
                        current["id"],
                    )
                    if current is not None:
                        removed = _delete_binding(db, current if keep_old else old, now)
                    if keep_old:
                        row = _one(
                            db,
                            "UPDATE bindings SET scope_id = ?, enterprise_id = ?, "
                            "team_name = coalesce(?, team_name) WHERE id = ? RETURNING *",
                            [organisation, identity.enterprise_id, team_name, old["id"]],
                        )
                        assert row is not None
                        moved = kept = _binding(row)
                    else:
                        assert current is not None
                        kept = _binding(current)
                live = _one(
                    db,
                    "SELECT count(*) AS n FROM binding_requests WHERE scope_id = ? AND "
                    "slack_user_id = ? AND used_at IS NULL AND expires_at > ?",
                    [*key, now],
                )
                links = live["n"] if live else 0
                # All of them, the used and expired too: a late click is told what became of
                # its link, and the link limit counts them, under the key they now have.
                db.execute(
                    "UPDATE binding_requests SET scope_id = ?, enterprise_id = ?, "
                    "team_name = coalesce(?, team_name) WHERE scope_id = ? AND slack_user_id = ?",
                    [organisation, identity.enterprise_id, team_name, *key],
                )
                if links:
                    # One live link per identity, as issuing a link leaves: the newest.
                    db.execute(
                        "UPDATE binding_requests SET used_at = ?, ended_reason = 'replaced' "
                        "WHERE scope_id = ? AND slack_user_id = ? AND used_at IS NULL "
                        "AND expires_at > ? AND nonce_hash != (SELECT nonce_hash FROM "
                        "binding_requests WHERE scope_id = ? AND slack_user_id = ? AND "
                        "used_at IS NULL AND expires_at > ? ORDER BY created_at DESC, "
                        "rowid DESC LIMIT 1)",
                        [now, organisation, user, now, organisation, user, now],
                    )
                # Other features' rows keyed on the identity: the organisation's wins.
                db.execute(
                    "DELETE FROM ended_bindings WHERE scope_id = ? AND slack_user_id = ? AND "
                    "EXISTS (SELECT 1 FROM ended_bindings WHERE scope_id = ? AND "
                    "slack_user_id = ?)",
                    [*key, organisation, user],
                )
                db.execute(
                    "UPDATE ended_bindings SET scope_id = ? WHERE scope_id = ? AND "
                    "slack_user_id = ?",
                    [organisation, *key],
                )
                db.execute(
                    "UPDATE link_resends SET sent_at = max(sent_at, (SELECT sent_at FROM "
                    "link_resends WHERE scope_id = ? AND slack_user_id = ?)) WHERE scope_id = ? "
                    "AND slack_user_id = ? AND EXISTS (SELECT 1 FROM link_resends WHERE "
                    "scope_id = ? AND slack_user_id = ?)",
                    [*key, organisation, user, *key],
                )
                db.execute(
                    "DELETE FROM link_resends WHERE scope_id = ? AND slack_user_id = ? AND "
                    "EXISTS (SELECT 1 FROM link_resends WHERE scope_id = ? AND "
                    "slack_user_id = ?)",
                    [*key, organisation, user],
                )
                db.execute(
                    "UPDATE link_resends SET scope_id = ? WHERE scope_id = ? AND slack_user_id = ?",
                    [organisation, *key],
                )
                if notice is not None and kept is not None and removed is not None:
                    _enqueue_merged(db, notice, kept, removed.binding, now)  # Issue 11, outbox
                return Rekeyed(moved=moved, kept=kept, removed=removed, links_moved=links)

        return self._outbox_written(await self._run(rekey), notice)

    # Issue 10, resume: the command a link was issued for, run once it binds

    async def take_resume(self, nonce_hash: str) -> StoredResume | None:
        def take(db: Database) -> StoredResume | None:
            with _write(db):
                row = _one(
                    db,
                    "SELECT * FROM binding_requests WHERE nonce_hash = ? AND used_at IS NOT NULL "
                    "AND ended_reason = 'bound' AND resume_text IS NOT NULL",
                    [nonce_hash],
                )
                if row is None:
                    return None
                db.execute(
                    "UPDATE binding_requests SET resume_text = NULL, resume_response_url = NULL "
                    "WHERE nonce_hash = ?",
                    [nonce_hash],
                )
                return StoredResume(
                    request=_binding_request(row),
                    response_url_ciphertext=row["resume_response_url"],
                )

        return await self._run(take)

    async def drop_resume(self, nonce_hash: str) -> None:
        def drop(db: Database) -> None:
            with _write(db):
                db.execute(
                    "UPDATE binding_requests SET resume_text = NULL, resume_response_url = NULL "
                    "WHERE nonce_hash = ? AND used_at IS NULL",
                    [nonce_hash],
                )

        await self._run(drop)

    # Issue 10, administration: the bindings an administrator lists and removes

    async def list_bindings(self, where: BindingFilter) -> list[ListedBinding]:
        clauses, params = [], []
        for clause, value in (
            ("bindings.id = ?", where.binding_id),
            ("users.username = ?", where.username),
            ("bindings.slack_user_id = ?", where.slack_user_id),
            ("bindings.created_at >= ?", where.since),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if where.workspace is not None:
            clauses.append("(bindings.team_id = ? OR bindings.enterprise_id = ?)")
            params += [where.workspace, where.workspace]
        sql = (
            "SELECT bindings.*, users.username AS u_username, "
            "EXISTS (SELECT 1 FROM oauth_grants WHERE oauth_grants.binding_id = bindings.id) "
            "AS has_grant FROM bindings JOIN users ON users.id = bindings.user_id"
        )
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)  # only the fixed clauses above
        sql += " ORDER BY bindings.id"
        rows = await self._read(lambda db: _all(db, sql, params))
        return [
            ListedBinding(
                binding=_binding(row),
                username=row["u_username"],
                last_used_at=row["last_used_at"],
                credential=(
                    "oauth2"
                    if row["has_grant"]
                    else "token"
                    if row["api_token_id"] is not None
                    else "none"
                ),
            )
            for row in rows
        ]

    # Issue 11, outbox: the confirmation DMs (account_binding.outbox.OutboxStore)

    #: Called after every transaction that wrote an outbox row (`watch_outbox`).
    _outbox_watchers: tuple[Callable[[], None], ...] = ()

    def watch_outbox(self, wake: Callable[[], None]) -> None:
        self._outbox_watchers = (*self._outbox_watchers, wake)

    def _outbox_written(self, result: T, notice: NoticeKind | None) -> T:
        """`result`, once the watchers are told that a transaction asked to write a row."""
        if notice is not None:
            for wake in self._outbox_watchers:
                wake()
        return result

    async def claim_outbox(
        self, now: float, lease_until: float, owner: str, kinds: Sequence[str], limit: int
    ) -> list[OutboxEntry]:
        def claim(db: Database) -> list[OutboxEntry]:
            with _write(db):
                return sqlite_outbox.claim(db, now, lease_until, owner, kinds, limit)

        return await self._run(claim)

    async def outbox_done(self, entry_id: int, owner: str) -> bool:
        def done(db: Database) -> bool:
            with _write(db):
                return sqlite_outbox.done(db, entry_id, owner)

        return await self._run(done)

    async def outbox_retry(
        self, entry_id: int, owner: str, next_attempt_at: float, error: str
    ) -> None:
        def retry(db: Database) -> None:
            with _write(db):
                sqlite_outbox.retry(db, entry_id, owner, next_attempt_at, error)

        await self._run(retry)

    async def outbox_release(self, owner: str) -> None:
        def release(db: Database) -> None:
            with _write(db):
                sqlite_outbox.release(db, owner)

        await self._run(release)

    async def outbox_depth(self) -> int:
        return await self._read(sqlite_outbox.depth)

    async def outbox_next_due(self, kinds: Sequence[str]) -> float | None:
        return await self._read(lambda db: sqlite_outbox.next_due(db, kinds))


def _insert_grant(db: Database, binding_id: int, grant: NewGrant, now: int) -> None:
    db.execute(
        "INSERT INTO oauth_grants (binding_id, issuer, subject, access_token_ciphertext, "
        "refresh_token_ciphertext, expires_at, scope, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            binding_id,
            grant.issuer,
            grant.subject,
            grant.access_token_ciphertext,
            grant.refresh_token_ciphertext,
            grant.expires_at,
            grant.scope,
            now,
        ],
    )


def _grant(row: Row) -> StoredGrant:
    return StoredGrant(
        binding_id=row["binding_id"],
        issuer=row["issuer"],
        subject=row["subject"],
        access_token_ciphertext=row["access_token_ciphertext"],
        refresh_token_ciphertext=row["refresh_token_ciphertext"],
        expires_at=row["expires_at"],
        scope=row["scope"],
        refreshing_until=row["refreshing_until"],
        updated_at=row["updated_at"],
    )


@contextmanager
def write_transaction(db: Database) -> Iterator[None]:
    """A write transaction that takes the write lock at its start (BEGIN IMMEDIATE).

    Taking it up front means a transaction never has to upgrade a read snapshot that another
    writer has made stale; a second writer waits up to the busy timeout instead.
    """
    if in_group(db.conn):  # Issue 12: one write of a group's transaction (sqlite_queues)
        with savepoint(db.conn):
            yield
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


_write = write_transaction  # the short name this module's own stores use


def _insert_audit(db: Database, record: AuditRecord) -> None:
    db.execute(
        "INSERT INTO audit_events (at, event, user_id, username, scope_id, "
        "slack_user_id, client, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.at,
            record.event,
            record.user_id,
            record.username,
            record.scope_id,
            record.slack_user_id,
            record.client,
            record.detail,
        ],
    )


def _audit(row: Row) -> AuditRecord:
    return AuditRecord(**row)


def _all(db: Database, sql: str, params: list[Any]) -> list[Row]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _one(db: Database, sql: str, params: list[Any]) -> Row | None:
    rows = _all(db, sql, params)
    return rows[0] if rows else None


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        created_at=row["created_at"],
        disabled_at=row.get("disabled_at"),  # Issue 10, lifecycle
    )


def _identity(row: Row) -> SlackIdentity:
    return SlackIdentity(
        scope_id=row["scope_id"],
        user_id=row["slack_user_id"],
        team_id=row["team_id"],
        enterprise_id=row["enterprise_id"],
    )


def _profile(row: Row) -> SlackProfile:
    return SlackProfile(
        user_name=row["user_name"],
        team_name=row["team_name"],
        app_id=row["app_id"],
        real_name=row.get("real_name"),
        command=row.get("command"),
    )


def _binding_request(row: Row) -> BindingRequest:
    return BindingRequest(
        identity=_identity(row),
        profile=_profile(row),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
        ended_reason=row["ended_reason"],
        resume_text=row["resume_text"],
    )


def _binding(row: Row) -> Binding:
    return Binding(
        id=row["id"],
        user_id=row["user_id"],
        identity=_identity(row),
        profile=_profile(row),
        api_token_id=row["api_token_id"],
        created_at=row["created_at"],
        public_id=row.get("public_id"),
        last_used_at=row.get("last_used_at"),
    )


# Issue 10, lifecycle: helpers of the lifecycle's writes (run inside their transaction)


def _selected(where: SlackSelection) -> tuple[str, list[Any]]:
    """The WHERE clause (one of three fixed texts) and parameters over the columns that
    `bindings` and `binding_requests` share, selecting what `where` names."""
    if where.identity is not None:
        return "scope_id = ? AND slack_user_id = ?", [
            where.identity.scope_id,
            where.identity.user_id,
        ]
    if where.enterprise_id is not None:
        return "scope_id = ? OR enterprise_id = ?", [where.enterprise_id, where.enterprise_id]
    if where.team_id is not None:
        return "team_id = ?", [where.team_id]
    raise ValueError("a selection names a person, an organisation or a workspace")


def _remove_bindings(
    db: Database, clause: str, params: list[Any], now: int
) -> list[RemovedBinding]:
    """Delete the bindings `clause` selects (a fixed text) with their OAuth grants, and revoke
    their API tokens; what was removed."""
    grants = {
        row["binding_id"]: _grant(row)
        for row in _all(
            db,
            "DELETE FROM oauth_grants WHERE binding_id IN "  # noqa: S608 - a fixed clause
            f"(SELECT id FROM bindings WHERE {clause}) RETURNING *",
            params,
        )
    }
    rows = _all(db, f"DELETE FROM bindings WHERE {clause} RETURNING *", params)  # noqa: S608
    token_ids = [row["api_token_id"] for row in rows if row["api_token_id"] is not None]
    db.execute(
        "UPDATE api_tokens SET revoked_at = ? "
        "WHERE id IN (SELECT value FROM json_each(?)) AND revoked_at IS NULL",
        [now, json.dumps(token_ids)],
    )
    rows.sort(key=lambda row: row["id"])
    return [RemovedBinding(_binding(row), grants.get(row["id"])) for row in rows]


def _note_ended(
    db: Database,
    removed: list[RemovedBinding],
    user_id: int,
    username: str,
    reason: str,
    now: int,
) -> None:
    db.conn.executemany(
        "INSERT OR REPLACE INTO ended_bindings (scope_id, slack_user_id, user_id, username, "
        "reason, ended_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            [
                r.binding.identity.scope_id,
                r.binding.identity.user_id,
                user_id,
                username,
                reason,
                now,
            ]
            for r in removed
        ],
    )


#: The domain's own tables that refer to users, emptied of a removed user's rows in this
#: order by `delete_user` (after their bindings, which refer to api_tokens).
_USER_TABLES = ("api_tokens", "sessions", "user_identities")


def _tables_referring_to_users(db: Database) -> list[tuple[str, str]]:
    """(table, column) for every table with a foreign key to users.id: the domain's own
    first, then any other (the stand-in's to-do items)."""
    found: list[tuple[str, str]] = []
    for (table,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall():
        for key in _all(db, "SELECT * FROM pragma_foreign_key_list(?)", [table]):
            if key["table"] == "users" and key["to"] in (None, "id"):
                found.append((str(table), str(key["from"])))
    order = {name: index for index, name in enumerate(_USER_TABLES)}
    return sorted(found, key=lambda pair: (order.get(pair[0], len(order)), pair[0]))


# Issue 10, Enterprise Grid


def _delete_binding(db: Database, row: Row, now: int) -> RemovedBinding:
    """Within a write transaction: delete the binding `row` and its OAuth grant, revoking its
    API token, as `remove_binding_and_grant` does."""
    grant = _one(db, "DELETE FROM oauth_grants WHERE binding_id = ? RETURNING *", [row["id"]])
    db.execute("DELETE FROM bindings WHERE id = ?", [row["id"]])
    db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND id = ?",
        [now, row["api_token_id"]],
    )
    return RemovedBinding(_binding(row), _grant(grant) if grant else None)


# Issue 10, resume


def _keep_resume(
    db: Database,
    nonce_hash: str,
    identity: SlackIdentity,
    text: str | None,
    response_url: str | None,
) -> None:
    """Within `add_binding_request`'s transaction: drop the identity's older links'
    commands, and keep `text` and `response_url` with the new link."""
    db.execute(
        "UPDATE binding_requests SET resume_text = NULL, resume_response_url = NULL "
        "WHERE scope_id = ? AND slack_user_id = ? AND nonce_hash != ? "
        "AND resume_text IS NOT NULL",
        [identity.scope_id, identity.user_id, nonce_hash],
    )
    if text is not None:
        db.execute(
            "UPDATE binding_requests SET resume_text = ?, resume_response_url = ? "
            "WHERE nonce_hash = ?",
            [text, response_url, nonce_hash],
        )


# Issue 11, outbox: the rows some transactions write (run inside them)


def _enqueue_ended(
    db: Database,
    notice: NoticeKind | None,
    removed: list[RemovedBinding],
    username: str,
    reason: str,
    now: int,
) -> None:
    """One row per binding an administrator's account action removed."""
    if notice is None:
        return
    for item in removed:
        facts = {"username": username, "reason": reason}
        sqlite_outbox.enqueue(db, notice, item.binding, facts, now)


def _enqueue_merged(
    db: Database, notice: NoticeKind, kept: Binding, removed: Binding, now: int
) -> None:
    """The row telling the person which of their two bindings was kept (to the kept one's
    Slack identity, keyed on the organisation)."""
    facts = {
        "kept_username": sqlite_outbox.username_of(db, kept.user_id),
        "kept_created_at": kept.created_at,
        "removed_username": sqlite_outbox.username_of(db, removed.user_id),
    }
    sqlite_outbox.enqueue(db, notice, kept, facts, now)
