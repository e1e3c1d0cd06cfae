"""`Store` on a SQLite file through sqlite-utils.

One connection, owned by one worker thread: every call runs there, so the event loop never
blocks on the disk and the connection never crosses threads. Several processes (or `Store`s)
may share one file: WAL lets readers go on while one writer writes, and writes that must be
atomic run in one transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from .errors import AlreadyBound, LinkExpired, LinkNotFound, LinkUsed, UsernameTaken
from .migrations import migrations
from .models import Binding, BindingRequest, SlackIdentity, SlackProfile, Todo, User
from .store import AuditFilter, AuditRecord, Session, StoredBinding

T = TypeVar("T")
Row = dict[str, Any]

BUSY_TIMEOUT_SECONDS = 10


def open_database(path: Path) -> Database:
    """Open (creating if need be) and migrate the database at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS)
    db = Database(conn, execute_plugins=False)
    db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = NORMAL")
    migrations.apply(db)
    return db


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: Database | None = None

    async def open(self) -> None:
        """Open and migrate the database now, rather than at the first call."""
        await self._run(lambda db: None)

    def _connect(self) -> Database:
        if self._db is None:
            self._db = open_database(self._path)
        return self._db

    async def _run(self, fn: Callable[[Database], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self._connect()))

    async def close(self) -> None:
        def close(_: Database) -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await self._run(close)
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    # internal users

    async def create_user(self, username: str, email: str, password_hash: str, now: int) -> User:
        def create(db: Database) -> User:
            try:
                with _write(db):
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
        row = await self._run(lambda db: _one(db, "SELECT * FROM users WHERE id = ?", [user_id]))
        return _user(row) if row else None

    async def find_credentials(self, username: str) -> tuple[User, str] | None:
        row = await self._run(
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
        rows = await self._run(lambda db: _all(db, "SELECT * FROM users ORDER BY username", []))
        return [_user(row) for row in rows]

    # binding links

    async def add_binding_request(
        self,
        nonce_hash: str,
        identity: SlackIdentity,
        profile: SlackProfile,
        now: int,
        expires_at: int,
    ) -> None:
        def add(db: Database) -> None:
            with _write(db):
                db.execute(
                    "UPDATE binding_requests SET used_at = ? "
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

        await self._run(add)

    async def get_binding_request(self, nonce_hash: str) -> BindingRequest | None:
        row = await self._run(
            lambda db: _one(db, "SELECT * FROM binding_requests WHERE nonce_hash = ?", [nonce_hash])
        )
        return _binding_request(row) if row else None

    async def complete_binding(
        self,
        nonce_hash: str,
        user_id: int,
        now: int,
        api_token_hash: str,
        api_token_ciphertext: str,
        real_name: str | None = None,
    ) -> Binding:
        def complete(db: Database) -> Binding:
            with _write(db):
                # The first statement writes, so this transaction holds the write lock from
                # here on: of two concurrent confirmations, exactly one sees the row unused.
                consumed = _one(
                    db,
                    "UPDATE binding_requests SET used_at = ? "
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
                token = db.execute(
                    "INSERT INTO api_tokens (user_id, token_hash, label, created_at) VALUES (?, ?, ?, ?)",
                    [user_id, api_token_hash, f"Slack {identity.scope_id}/{identity.user_id}", now],
                )
                assert token.lastrowid is not None
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
                        token.lastrowid,
                        api_token_ciphertext,
                        now,
                    ],
                )
                assert binding.lastrowid is not None
                return Binding(
                    id=binding.lastrowid,
                    user_id=user_id,
                    identity=identity,
                    profile=replace(request.profile, real_name=real_name),
                    api_token_id=token.lastrowid,
                    created_at=now,
                )

        return await self._run(complete)

    async def void_binding_request(self, nonce_hash: str, now: int) -> None:
        def void(db: Database) -> None:
            with _write(db):
                db.execute(
                    "UPDATE binding_requests SET used_at = ? WHERE nonce_hash = ? AND used_at IS NULL",
                    [now, nonce_hash],
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
        row = await self._run(
            lambda db: _one(
                db,
                "SELECT * FROM bindings WHERE scope_id = ? AND slack_user_id = ?",
                [identity.scope_id, identity.user_id],
            )
        )
        return StoredBinding(_binding(row), row["api_token_ciphertext"]) if row else None

    async def bindings_of(self, user_id: int) -> list[Binding]:
        rows = await self._run(
            lambda db: _all(db, "SELECT * FROM bindings WHERE user_id = ? ORDER BY id", [user_id])
        )
        return [_binding(row) for row in rows]

    async def remove_binding(self, identity: SlackIdentity, now: int) -> Binding | None:
        def remove(db: Database) -> Binding | None:
            with _write(db):
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
                return _binding(row)

        return await self._run(remove)

    # personal API tokens

    async def find_token_user(self, api_token_hash: str, now: int) -> User | None:
        row = await self._run(
            lambda db: _one(
                db,
                "SELECT users.* FROM api_tokens JOIN users ON users.id = api_tokens.user_id "
                "WHERE api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL",
                [api_token_hash],
            )
        )
        return _user(row) if row else None

    # sessions

    async def create_session(
        self,
        token_hash: str,
        user_id: int,
        csrf_token: str,
        now: int,
        link_hash: str | None = None,
    ) -> None:
        def create(db: Database) -> None:
            with _write(db):
                db.execute(
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, "
                    "last_seen_at, link_hash) VALUES (?, ?, ?, ?, ?, ?)",
                    [token_hash, user_id, csrf_token, now, now, link_hash],
                )

        await self._run(create)

    async def get_session(self, token_hash: str) -> Session | None:
        row = await self._run(
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

        await self._run(add)

    async def list_audit(self, where: AuditFilter) -> list[AuditRecord]:
        clauses, params = [], []
        for column, value in (
            ("event = ?", where.event),
            ("username = ?", where.username),
            ("slack_user_id = ?", where.slack_user_id),
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
        rows = await self._run(lambda db: _all(db, sql, params))
        return [_audit(row) for row in rows]

    # failed logins

    async def reserve_login_attempt(
        self, limits: dict[str, int], now: int, since: int
    ) -> list[int] | None:
        def reserve(db: Database) -> list[int] | None:
            with _write(db):
                for key, limit in limits.items():
                    (count,) = db.execute(
                        "SELECT count(*) FROM login_failures WHERE key = ? AND at >= ?",
                        [key, since],
                    ).fetchone()
                    if count >= limit:
                        return None
                ids = []
                for key in limits:
                    cursor = db.execute(
                        "INSERT INTO login_failures (key, at) VALUES (?, ?)", [key, now]
                    )
                    assert cursor.lastrowid is not None
                    ids.append(cursor.lastrowid)
                return ids

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
        row = await self._run(
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

    # to-do items

    async def list_todos(self, user_id: int) -> list[Todo]:
        rows = await self._run(
            lambda db: _all(db, "SELECT * FROM todos WHERE user_id = ? ORDER BY id", [user_id])
        )
        return [_todo(row) for row in rows]

    async def add_todo(self, user_id: int, title: str, now: int) -> Todo:
        def add(db: Database) -> Todo:
            with _write(db):
                row = _one(
                    db,
                    "INSERT INTO todos (user_id, title, done, created_at) VALUES (?, ?, 0, ?) "
                    "RETURNING *",
                    [user_id, title, now],
                )
            assert row is not None
            return _todo(row)

        return await self._run(add)

    async def complete_todo(self, user_id: int, todo_id: int) -> Todo | None:
        def complete(db: Database) -> Todo | None:
            with _write(db):
                row = _one(
                    db,
                    "UPDATE todos SET done = 1 WHERE id = ? AND user_id = ? RETURNING *",
                    [todo_id, user_id],
                )
            return _todo(row) if row else None

        return await self._run(complete)


@contextmanager
def _write(db: Database) -> Iterator[None]:
    """A write transaction that takes the write lock at its start (BEGIN IMMEDIATE).

    Taking it up front means a transaction never has to upgrade a read snapshot that another
    writer has made stale; a second writer waits up to the busy timeout instead.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


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
        id=row["id"], username=row["username"], email=row["email"], created_at=row["created_at"]
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
    )


def _binding(row: Row) -> Binding:
    return Binding(
        id=row["id"],
        user_id=row["user_id"],
        identity=_identity(row),
        profile=_profile(row),
        api_token_id=row["api_token_id"],
        created_at=row["created_at"],
    )


def _todo(row: Row) -> Todo:
    return Todo(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        done=bool(row["done"]),
        created_at=row["created_at"],
    )
