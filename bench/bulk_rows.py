"""Bound people and pending links written in bulk, for the growth benchmark (issue 12).

Made through the services (`bench.people.People`), a binding costs five write transactions
(the account, the link, its audit entry, the binding, its audit entry), each synced to disk
(`PRAGMA synchronous = FULL`): a million of them took hours. Here the same rows are written
with plain INSERTs, many thousands to a transaction, on a connection of their own opened by
`account_binding.sqlite_store.open_database` (so on the migrated schema, with its triggers).
Each row holds what the services would have written (tests/test_bench_growth.py compares a
person made each way, column by column):

- `users`: the account (`Store.create_user`), with one password hash for all;
- `binding_requests`: the link it was bound through (used, `ended_reason` "bound");
- `api_tokens` and `bindings`: the personal token (its SHA-256, and encrypted under
  SECRET_KEY with the product's `TokenCipher`, so that a lookup decrypts a real one) and
  the binding (`Store.complete_binding`; the `bindings_public_id` trigger gives its public ID);
- `audit_events`: `link_issued` and `bound`, as `AuditLog.record` writes them;
- and, for another Slack person, a pending link (`Store.add_binding_request`) and its
  `link_issued` entry.

Not written: the `bound` DM's outbox row, which the app's sender deletes once Slack took it
(nothing sends it here, so the services' rows would pile up where the app's do not).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from account_binding.audit import AuditEvent
from account_binding.crypto import TokenCipher
from account_binding.passwords import hash_password
from account_binding.sqlite_store import open_database
from account_binding.tokens import digest, new_api_token, new_secret

from .people import CLIENT, PASSWORD

#: Bound people (and as many pending links) per write transaction.
BATCH = 20_000

#: The page cache of the connection that writes them, in KiB (SQLite's negative
#: cache_size): the random keys (link and token hashes) then stay in memory.
CACHE_KIB = 1_000_000

#: How long a link lasts (`BindingPolicy.ttl_seconds`'s default), in seconds.
LINK_TTL = 600


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608


USER = ("id", "username", "email", "password_hash", "created_at")
TOKEN = ("id", "user_id", "token_hash", "label", "created_at", "expires_at")
LINK = (
    "nonce_hash",
    "scope_id",
    "slack_user_id",
    "team_id",
    "enterprise_id",
    "user_name",
    "team_name",
    "app_id",
    "command",
    "created_at",
    "expires_at",
    "used_at",
    "ended_reason",
)
BINDING = (
    "id",
    "user_id",
    "scope_id",
    "slack_user_id",
    "team_id",
    "enterprise_id",
    "user_name",
    "team_name",
    "app_id",
    "real_name",
    "api_token_id",
    "api_token_ciphertext",
    "created_at",
)
AUDIT = ("at", "event", "user_id", "username", "scope_id", "slack_user_id", "client", "detail")


class BulkPeople:
    """Writes bound people and pending links into the database at `path` (migrated: open
    the product's store on it first), for Slack workspace `team_id` (no Enterprise Grid).

    `bound(n)` and `pending(n)` name the n-th bound and pending Slack person's user ID,
    `username(n)` the n-th account's name."""

    def __init__(
        self,
        path: Path,
        secret_key: str,
        team_id: str,
        *,
        bound: Callable[[int], str],
        pending: Callable[[int], str],
        username: Callable[[int], str],
        team_name: str = "Sandbox",
    ) -> None:
        self.path = path
        self.cipher = TokenCipher(secret_key)
        self.team_id = team_id
        self.team_name = team_name
        self.bound = bound
        self.pending = pending
        self.username = username
        self._hash: str | None = None

    def write(
        self,
        start: int,
        end: int,
        log: Callable[[str], None] = print,
        stop: threading.Event | None = None,
    ) -> None:
        """Bound people and pending links numbered `start` to `end` (exclusive). Once `stop`
        is set, no further batch is begun (the run was stopped; what is written stays)."""
        if self._hash is None:
            self._hash = hash_password(PASSWORD)
        db = open_database(self.path, create=False)
        conn = db.conn
        began = time.monotonic()
        try:
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            for low in range(start, end, BATCH):
                if stop is not None and stop.is_set():
                    return
                high = min(end, low + BATCH)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    self._batch(conn, low, high, int(time.time()))
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
                if (high - start) % 100_000 == 0 or high == end:
                    rate = (high - start) / max(time.monotonic() - began, 1e-9)
                    log(f"    {high} rows ({rate:.0f} bound people and links a second)")
            settle(conn)
        finally:
            db.close()

    def _batch(self, conn: sqlite3.Connection, low: int, high: int, now: int) -> None:
        (user_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM users").fetchone()
        (token_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM api_tokens").fetchone()
        (binding_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM bindings").fetchone()
        users: list[tuple[Any, ...]] = []
        tokens: list[tuple[Any, ...]] = []
        links: list[tuple[Any, ...]] = []
        bindings: list[tuple[Any, ...]] = []
        audit: list[tuple[Any, ...]] = []
        team = self.team_id
        for n in range(low, high):
            user_id, token_id, binding_id = user_id + 1, token_id + 1, binding_id + 1
            username = self.username(n)
            slack_id, pending_id = self.bound(n), self.pending(n)
            users.append((user_id, username, f"{username}@example.com", self._hash, now))
            token = new_api_token()
            label = f"Slack {team}/{slack_id}"
            tokens.append((token_id, user_id, digest(token), label, now, None))
            for person, used_at, reason in ((slack_id, now, "bound"), (pending_id, None, None)):
                links.append(
                    (
                        digest(new_secret()),
                        team,
                        person,
                        team,
                        None,
                        person.lower(),
                        self.team_name,
                        None,
                        None,
                        now,
                        now + LINK_TTL,
                        used_at,
                        reason,
                    )
                )
                audit.append(
                    (now, str(AuditEvent.LINK_ISSUED), None, None, team, person, None, None)
                )
            bindings.append(
                (
                    binding_id,
                    user_id,
                    team,
                    slack_id,
                    team,
                    None,
                    slack_id.lower(),
                    self.team_name,
                    None,
                    None,
                    token_id,
                    self.cipher.encrypt(token),
                    now,
                )
            )
            audit.append(
                (now, str(AuditEvent.BOUND), user_id, username, team, slack_id, CLIENT, None)
            )
        conn.executemany(_insert("users", USER), users)
        conn.executemany(_insert("api_tokens", TOKEN), tokens)
        conn.executemany(_insert("binding_requests", LINK), links)
        conn.executemany(_insert("bindings", BINDING), bindings)
        conn.executemany(_insert("audit_events", AUDIT), audit)


def settle(conn: sqlite3.Connection) -> None:
    """Copy the log into the database file and sync it (SQLite syncs the file at a
    checkpoint under `synchronous = FULL`), then empty the log: the timed operations then
    start as on a database that grew over months, not while the kernel is still writing out
    the gigabyte just written (its writeback made the first commits' syncs wait: link issue
    measured 1.5 to 1.7 times slower at a million rows right after the rows were written).

    `wal_checkpoint(TRUNCATE)` (https://sqlite.org/pragma.html#pragma_wal_checkpoint) waits
    for no reader: the store's connections are idle meanwhile."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise RuntimeError("the growth database's log could not be checkpointed: in use")
