"""Costs that stay flat as the tables grow (issue 12): the statements the store runs for a
slash command, a link, a binding, a login or an account use an index, never a walk of a
whole table (a `SCAN` in SQLite's EXPLAIN QUERY PLAN).

Each test runs the real operations on a real SQLite file, records every statement SQLite
ran for them (`sqlite3.Connection.set_trace_callback`, on the store's own connections, with
the values bound), and asks SQLite for each statement's plan on the same file. Nothing here
measures a speed: the growth benchmark (`python -m bench --only growth`) does, at a million
bindings.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from account_binding.audit import Actor, AuditEvent, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.models import SlackIdentity, SlackPerson, SlackProfile, User
from account_binding.outbox import NoticeKind
from account_binding.sqlite_store import SQLiteStore, open_database
from account_binding.tokens import digest
from stand_in.migrations import migrations as stand_in_migrations

REAL_CONNECT = sqlite3.connect
TEAM = "T0PLANS"
PROFILE = SlackProfile(user_name="ada", team_name="Plans", app_id="A1")
WEB = Actor(client="127.0.0.1")

#: Plan lines that read no table of the product's: a JSON array bound as a parameter
#: (`json_each`), the schema itself (removing a user reads which tables refer to users, with
#: `pragma_foreign_key_list`).
HARMLESS_SCANS = (
    "SCAN json_each",
    "SCAN CONSTANT ROW",
    "SCAN sqlite_master",
    "SCAN sqlite_schema",
    "SCAN pragma_",
)


class NoDirectory:
    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return None


class Trace:
    """The statements SQLite ran on every connection opened while the fixture is in use."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.statements: list[str] = []

    async def of(self, operation: Callable[[], Awaitable[Any]]) -> list[str]:
        """The data statements `operation` ran (not BEGIN, COMMIT or PRAGMA), in order."""
        self.statements.clear()
        await operation()
        return [
            sql
            for sql in self.statements
            if sql.lstrip().split(" ", 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE")
        ]

    def plans(self, statements: list[str]) -> dict[str, list[str]]:
        """Each statement's EXPLAIN QUERY PLAN lines, on the same file."""
        conn = REAL_CONNECT(self.database)
        try:
            return {
                sql: [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
                for sql in statements
            }
        finally:
            conn.close()

    def assert_no_scan(self, statements: list[str]) -> None:
        assert statements, "the operation ran no statement"
        walks = {
            sql: plan
            for sql, plan in self.plans(statements).items()
            if any(
                line.startswith("SCAN ") and not line.startswith(HARMLESS_SCANS) for line in plan
            )
        }
        assert not walks, "statements that read a whole table:\n" + "\n".join(
            f"{sql}\n    {plan}" for sql, plan in walks.items()
        )

    def assert_uses(self, statements: list[str], pattern: str, index: str) -> None:
        """Every statement that `pattern` (a regular expression) finds searches with `index`."""
        chosen = [sql for sql in statements if re.search(pattern, sql)]
        assert chosen, f"no statement ran that {pattern!r} finds: {statements}"
        for sql, plan in self.plans(chosen).items():
            assert any(f"INDEX {index} " in line for line in plan), (sql, plan)


@pytest.fixture
def trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Trace]:
    traced = Trace(tmp_path / "plans.sqlite3")

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = REAL_CONNECT(*args, **kwargs)
        conn.set_trace_callback(traced.statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    yield traced


@pytest.fixture
async def store(trace: Trace) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(trace.database)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def _service(store: SQLiteStore) -> BindingService:
    return BindingService(
        store, TokenCipher("k"), AuditLog(store), NoDirectory(), BindingPolicy(links_per_hour=100)
    )


def _person(n: int) -> SlackIdentity:
    return SlackIdentity.from_ids(team_id=TEAM, user_id=f"U{n:04d}", enterprise_id=None)


async def _people(store: SQLiteStore, bindings: BindingService, count: int) -> list[User]:
    """`count` accounts, each bound to Slack person n, so that the tables are not empty."""
    users = []
    now = int(time.time())
    for n in range(count):
        user = await store.create_user(f"user{n}", f"user{n}@example.com", "hash", now)
        issued = await bindings.issue_link(_person(n), PROFILE)
        await bindings.confirm(issued.nonce, user, Actor(user=user, client="bench"))
        users.append(user)
    return users


async def test_a_slash_command_and_a_binding_walk_no_table(
    store: SQLiteStore, trace: Trace
) -> None:
    bindings = _service(store)
    audit = AuditLog(store)
    users = await _people(store, bindings, 20)
    now = int(time.time())
    newcomer = _person(100)
    grid = SlackIdentity.from_ids(team_id=TEAM, user_id="U0003", enterprise_id="E0PLANS")

    # What a command does: settle a Grid identity, look the binding up (or why it ended),
    # record its use, or issue a link; then what binding and disconnecting do.
    statements = await trace.of(lambda: bindings.settle_identity(grid, "Plans Org"))
    statements += await trace.of(lambda: bindings.bound_account(_person(1)))
    account = await bindings.bound_account(_person(2))
    assert account is not None
    statements += await trace.of(lambda: bindings.record_use(account.binding))
    statements += await trace.of(lambda: store.ended_binding(newcomer))
    statements += await trace.of(lambda: bindings.issue_link(newcomer, PROFILE))
    again = await bindings.issue_link(newcomer, PROFILE)  # the first is voided ("replaced")
    user = await store.create_user("newcomer", "newcomer@example.com", "hash", now)
    actor = Actor(user=user, client="bench")
    statements += await trace.of(lambda: bindings.confirm(again.nonce, user, actor))
    connection = await bindings.connection_of(_person(4))
    assert connection is not None and connection.binding.public_id is not None
    public_id = connection.binding.public_id
    statements += await trace.of(
        lambda: bindings.unbind_binding(_person(4), public_id, Actor(user=users[4]))
    )
    # Events API deliveries, refusals anyone can provoke, the DMs' outbox.
    statements += await trace.of(lambda: store.note_slack_event("Ev0001", now))
    statements += await trace.of(lambda: store.slack_event_noted("Ev0001"))
    statements += await trace.of(
        lambda: audit.record_capped(AuditEvent.LINK_REFUSED, WEB, detail="unknown")
    )
    claimed = []

    async def claim() -> None:
        claimed.extend(await store.claim_outbox(now + 1, now + 60, "owner", ["bound"], 10))

    statements += await trace.of(claim)
    assert claimed
    statements += await trace.of(lambda: store.outbox_done(claimed[0].id, "owner"))
    statements += await trace.of(
        lambda: store.outbox_retry(claimed[1].id, "owner", now + 30, "rate limited")
    )

    trace.assert_no_scan(statements)
    # Issue 12, growth: Slack's Disconnect (and the web's Remove) finds the binding by its
    # public ID through an index of its own (m009); it read every binding.
    trace.assert_uses(statements, r"FROM bindings WHERE public_id = ", "idx_bindings_public_id")


async def test_adding_an_account_finds_a_taken_email_through_an_index(
    store: SQLiteStore, trace: Trace
) -> None:
    await _people(store, _service(store), 5)
    now = int(time.time())
    statements = await trace.of(
        lambda: store.create_user("grace", "Grace@Example.com", "hash", now)
    )
    statements += await trace.of(
        lambda: store.create_external_user("alan", "alan@example.com", "https://idp", "s1", now)
    )
    statements += await trace.of(lambda: store.set_user_email(1, "ADA@example.com"))
    trace.assert_no_scan(statements)
    trace.assert_uses(statements, r"email = .* COLLATE NOCASE", "idx_users_email_nocase")


async def test_a_login_and_its_sessions_walk_no_table(store: SQLiteStore, trace: Trace) -> None:
    users = await _people(store, _service(store), 5)
    now = int(time.time())
    limits = {"user:user1": 5, "client:127.0.0.1": 20}
    statements = await trace.of(lambda: store.reserve_login_attempt(limits, now, now - 900))
    statements += await trace.of(lambda: store.count_login_failures("user:user1", now - 900))
    for k in range(3):
        statements += await trace.of(
            lambda k=k: store.create_session(
                digest(f"session{k}"), users[1].id, "csrf", now + k, keep_at_most=2
            )
        )
    statements += await trace.of(lambda: store.get_session(digest("session2")))
    statements += await trace.of(lambda: store.touch_session(digest("session2"), now + 5))
    statements += await trace.of(lambda: store.forget_login_attempt([1, 2], "user:user1"))
    statements += await trace.of(lambda: store.delete_sessions_of(users[1].id))
    trace.assert_no_scan(statements)
    # Issue 12, growth: a login keeps its user's newest sessions through sessions' user_id
    # index (m009); it read every session at each login.
    trace.assert_uses(statements, r"FROM sessions WHERE user_id = ", "idx_sessions_user_id")


async def test_disabling_and_removing_a_user_walk_no_table(
    store: SQLiteStore, trace: Trace
) -> None:
    users = await _people(store, _service(store), 5)
    now = int(time.time())
    await store.create_session(digest("s"), users[1].id, "csrf", now)
    statements = await trace.of(lambda: store.disable_user(users[1].id, now, NoticeKind.ENDED))
    statements += await trace.of(lambda: store.enable_user(users[1].id))
    statements += await trace.of(lambda: store.delete_user(users[2].id, now, NoticeKind.ENDED))
    trace.assert_no_scan(statements)
    # Issue 12, growth (m009): a disabled user's tokens are revoked, and their ended bindings
    # forgotten when they are enabled or removed, through indexes on user_id.
    tokens, ended = "idx_api_tokens_user_id", "idx_ended_bindings_user_id"
    trace.assert_uses(statements, r"UPDATE api_tokens .* WHERE user_id = ", tokens)
    trace.assert_uses(statements, r'DELETE FROM "api_tokens" WHERE "user_id" = ', tokens)
    trace.assert_uses(statements, r"ended_bindings .*WHERE user_id = ", ended)


@pytest.mark.parametrize("also_migrate", [(), (stand_in_migrations,)], ids=["domain", "stand-in"])
def test_every_foreign_key_has_an_index(tmp_path: Path, also_migrate: tuple[Any, ...]) -> None:
    """Deleting a row SQLite checks its foreign keys for reads each table that refers to it
    by the referring columns: without an index there, removing a user or a token read whole
    tables (https://sqlite.org/foreignkeys.html#fk_indexes)."""
    db = open_database(tmp_path / "keys.sqlite3", also_migrate=also_migrate)
    try:
        tables = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        unindexed = []
        for table in tables:
            leading = {
                tuple(column for (_, _, column) in db.execute(f"PRAGMA index_info('{index}')"))[:1]
                for (_, index, *_) in db.execute(f"PRAGMA index_list('{table}')")
            }
            primary = tuple(
                name
                for (_, name, _, _, _, pk) in db.execute(f"PRAGMA table_info('{table}')")
                if pk == 1
            )
            for key in db.execute(f"PRAGMA foreign_key_list('{table}')"):
                column = key[3]
                if (column,) not in leading and primary[:1] != (column,):
                    unindexed.append(f"{table}.{column} -> {key[2]}")
        assert not unindexed, unindexed
    finally:
        db.close()
