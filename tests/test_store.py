"""The SQLite store on a real file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from account_binding.audit import CAPPED_PER_HOUR, Actor, AuditEvent, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.errors import (
    AlreadyBound,
    EmailTaken,
    IdentityTaken,
    LinkExpired,
    LinkNotFound,
    LinkRateLimited,
    LinkUsed,
    SlackUnavailable,
    UsernameTaken,
)
from account_binding.login import LoginFailed
from account_binding.migrations import migrations
from account_binding.models import SlackIdentity, SlackPerson, SlackProfile
from account_binding.sqlite_store import SQLiteStore, open_database
from account_binding.store import AuditFilter, AuditRecord, NoDatabase, StoreUnavailable
from account_binding.tokens import digest

ADA = SlackIdentity.from_ids(team_id="T1", user_id="U1", enterprise_id=None)
PROFILE = SlackProfile(user_name="ada", team_name="acme", app_id="A1")


class Clock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Directory:
    """Slack's users.info as a test needs it."""

    def __init__(self, email: str | None = None) -> None:
        self.email = email

    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return SlackPerson("Ada Lovelace", "Ada", self.email, None)


def service_for(
    store: SQLiteStore,
    clock: Clock | None = None,
    directory: Directory | None = None,
    require_email_match: bool = False,
) -> BindingService:
    return BindingService(
        store,
        TokenCipher("k"),
        AuditLog(store, clock or Clock()),
        directory or Directory(),
        BindingPolicy(ttl_seconds=600, require_email_match=require_email_match),
        clock=clock or Clock(),
    )


WEB = Actor(client="127.0.0.1")


@pytest.fixture
async def store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    yield store  # type: ignore[misc]
    await store.close()


def test_schema_is_migrated_once_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = open_database(path)
    assert db.journal_mode == "wal"
    names = set(db.table_names())
    assert {"users", "api_tokens", "binding_requests", "bindings", "sessions"} <= names
    assert "todos" not in names  # the stand-in's own migrations make it (test_stand_in_store.py)
    db.close()
    again = open_database(path)  # a second start applies nothing twice
    applied = again.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
    assert applied == len(migrations.applied(again)) >= 2 and not migrations.pending(again)
    again.close()


async def test_only_hashes_of_nonces_and_tokens_are_stored(
    store: SQLiteStore, tmp_path: Path
) -> None:
    service = service_for(store)
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    link = await service.issue_link(ADA, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    raw = (tmp_path / "db.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("db.sqlite3-*")
    )
    assert link.nonce.encode() not in raw
    assert digest(link.nonce).encode() in raw
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        (token_hash,) = db.execute("SELECT token_hash FROM api_tokens").fetchone()
        (ciphertext,) = db.execute("SELECT api_token_ciphertext FROM bindings").fetchone()
    token = TokenCipher("k").decrypt(ciphertext)
    assert token and digest(token) == token_hash and token.encode() not in raw


async def test_a_link_works_once_and_until_it_expires(store: SQLiteStore) -> None:
    clock = Clock()
    service = service_for(store, clock)
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    with pytest.raises(LinkNotFound):
        await service.pending("unknown", WEB)

    expiring = await service.issue_link(ADA, PROFILE)
    clock.now += 600
    with pytest.raises(LinkExpired):
        await service.pending(expiring.nonce, WEB)
    with pytest.raises(LinkExpired):
        await service.confirm(expiring.nonce, user, WEB)

    link = await service.issue_link(ADA, PROFILE)
    clock.now += 599
    assert (await service.pending(link.nonce, WEB)).identity == ADA
    binding = await service.confirm(link.nonce, user, WEB)
    assert binding.identity == ADA and binding.user_id == user.id
    with pytest.raises(LinkUsed):
        await service.confirm(link.nonce, user, WEB)


async def test_a_slack_identity_is_bound_at_most_once_and_a_refusal_consumes_nothing(
    store: SQLiteStore,
) -> None:
    service = service_for(store)
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    bob = await store.create_user("bob", "bob@example.com", "hash", 1)
    first = await service.issue_link(ADA, PROFILE)
    await service.confirm(first.nonce, ada, WEB)
    # A link for the now-bound identity (issued in a race with the confirmation).
    second_nonce = "second-nonce"
    await store.add_binding_request(digest(second_nonce), ADA, PROFILE, 1, 10**10)
    with pytest.raises(AlreadyBound):
        await service.confirm(second_nonce, bob, WEB)
    assert (await service.pending(second_nonce, WEB)).used_at is None  # rolled back
    account = await service.bound_account(ADA)
    assert account is not None and account.binding.user_id == ada.id


async def test_a_grid_user_is_one_identity_across_workspaces(store: SQLiteStore) -> None:
    service = service_for(store)
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    in_one = SlackIdentity.from_ids(team_id="T1", user_id="W1", enterprise_id="E1")
    in_other = SlackIdentity.from_ids(team_id="T2", user_id="W1", enterprise_id="E1")
    link = await service.issue_link(in_one, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    assert await service.is_bound(in_other)
    assert not await service.is_bound(
        SlackIdentity.from_ids(team_id="T2", user_id="W1", enterprise_id=None)
    )


async def test_usernames_are_unique(store: SQLiteStore) -> None:
    await store.create_user("ada", "a@example.com", "h", 1)
    with pytest.raises(UsernameTaken):
        await store.create_user("ada", "b@example.com", "h", 1)


async def test_expired_links_are_purged(store: SQLiteStore) -> None:
    clock = Clock()
    service = service_for(store, clock)
    await service.issue_link(ADA, PROFILE)
    assert await service.purge() == 0
    clock.now += 600 + 24 * 3600 + 1
    assert await service.purge() == 1


def test_two_processes_confirming_one_link_make_one_binding(tmp_path: Path) -> None:
    """Two connections (as two processes would have) race on one link, many times."""
    path = tmp_path / "db.sqlite3"

    async def setup() -> list[str]:
        store = SQLiteStore(path)
        user_a = await store.create_user("a", "a@example.com", "h", 1)
        user_b = await store.create_user("b", "b@example.com", "h", 1)
        assert (user_a.id, user_b.id) == (1, 2)
        nonces = []
        for n in range(20):
            identity = SlackIdentity.from_ids(team_id="T1", user_id=f"U{n}", enterprise_id=None)
            nonce = f"nonce-{n}"
            await store.add_binding_request(digest(nonce), identity, PROFILE, 1, 10**10)
            nonces.append(nonce)
        await store.close()
        return nonces

    nonces = asyncio.run(setup())
    outcomes: dict[int, list[str]] = {1: [], 2: []}
    barrier = threading.Barrier(2, timeout=30)  # a racer that dies breaks it instead of hanging

    def racer(user_id: int) -> None:
        async def race() -> None:
            store = SQLiteStore(path)
            service = service_for(store)
            user = await store.get_user(user_id)
            assert user is not None
            for nonce in nonces:
                await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
                try:
                    await service.confirm(nonce, user, WEB)
                    outcomes[user_id].append("bound")
                except LinkUsed:
                    outcomes[user_id].append("used")
            await store.close()

        asyncio.run(race())

    threads = [threading.Thread(target=racer, args=(uid,)) for uid in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for a, b in zip(outcomes[1], outcomes[2], strict=True):
        assert sorted((a, b)) == ["bound", "used"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM bindings").fetchone() == (20,)
        assert db.execute("SELECT count(*) FROM api_tokens").fetchone() == (20,)


async def test_the_store_itself_refuses_an_expired_link(store: SQLiteStore) -> None:
    """Expiry is checked again in the consuming transaction, for a link that expires between
    the page's check and the confirmation."""
    await store.create_user("ada", "ada@example.com", "hash", 1)
    await store.add_binding_request(digest("n"), ADA, PROFILE, 1, 100)
    with pytest.raises(LinkExpired):
        await store.complete_binding(digest("n"), 1, 100, digest("t"), "ciphertext")
    assert await store.find_binding(ADA) is None


async def test_sessions_and_passwords_are_stored_only_as_hashes(tmp_path: Path) -> None:
    from account_binding.accounts import AccountService
    from account_binding.sessions import SessionService

    store = SQLiteStore(tmp_path / "db.sqlite3")
    user = await AccountService(store).add_user("ada", "ada@example.com", "a long password")
    session = await SessionService(store, idle_timeout=60, max_age=60).start(user.id)
    await store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite3*"))
    assert session.encode() not in raw and digest(session).encode() in raw
    assert b"a long password" not in raw and b"$argon2id$" in raw


# Start-up: any number of processes may open a new or old database at once

OPEN_AT = """
import sys, time
from pathlib import Path
from account_binding.sqlite_store import open_database
path, start = Path(sys.argv[1]), float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
open_database(path).close()
"""


def test_many_processes_opening_a_fresh_database_at_once_all_succeed(tmp_path: Path) -> None:
    """Real child processes, released at one moment on a file nobody has made yet; repeated.
    Before the migrations ran under the write lock, some died with "database is locked" or
    "table already exists"."""
    for round_ in range(4):
        path = tmp_path / f"round-{round_}" / "db.sqlite3"
        start = time.time() + 2.0  # time enough for every child to import and wait
        children = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(path), str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
            )
            for _ in range(8)
        ]
        for child in children:
            _, err = child.communicate(timeout=60)
            assert child.returncode == 0, err.decode()
        db = open_database(path)
        assert not migrations.pending(db)
        names = [m.name for m in migrations.applied(db)]
        assert len(names) == len(set(names)) == len(migrations._migrations)
        db.close()


def test_migrations_decide_what_is_pending_under_the_write_lock(tmp_path: Path) -> None:
    """A process that found migrations pending, then waited for the lock while another
    applied them, applies nothing twice."""
    path = tmp_path / "db.sqlite3"
    first = open_database(path)
    first.close()
    with sqlite3.connect(path) as db:  # make the last migration pending again
        last = migrations._migrations[-1].name
        db.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [last])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock...
    opened: list[Exception | None] = []

    def open_it() -> None:
        try:
            open_database(path).close()
            opened.append(None)
        except Exception as error:
            opened.append(error)

    waiter = threading.Thread(target=open_it)
    waiter.start()
    time.sleep(0.5)
    # ...and applies the pending migration meanwhile.
    holder.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
        ["account_binding", last, "now"],
    )
    holder.execute("COMMIT")
    holder.close()
    waiter.join(30)
    assert opened == [None]  # it did not apply m003 again ("duplicate column")


# Files: private, whatever the umask


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = open_database(tmp_path / "db.sqlite3")
        db.execute("CREATE TABLE t (x)")  # writes: -wal and -shm exist now
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files == ["db.sqlite3", "db.sqlite3-shm", "db.sqlite3-wal"]
        assert {name: _mode(tmp_path / name) for name in files} == dict.fromkeys(files, 0o600)
        db.close()
    finally:
        os.umask(old)


def test_a_database_made_loose_before_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    open_database(path).close()
    os.chmod(path, 0o644)
    db = open_database(path)
    assert _mode(path) == 0o600
    db.close()


def test_a_new_database_directory_is_private(tmp_path: Path) -> None:
    open_database(tmp_path / "data" / "db.sqlite3").close()
    assert _mode(tmp_path / "data") & 0o077 == 0


def test_an_unusable_database_is_one_line_naming_database(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    not_a_database = tmp_path / "garbage.sqlite3"
    not_a_database.write_bytes(b"this is not a database" * 100)
    for path, reason in (
        (tmp_path / "a-file" / "db.sqlite3", "a-file is not a directory"),
        (not_a_database, "is not a SQLite database"),
    ):
        with pytest.raises(StoreUnavailable) as error:
            open_database(path)
        assert str(error.value).startswith(f"Cannot use DATABASE {path}: ")
        assert reason in str(error.value) and "\n" not in str(error.value)


def test_a_database_that_is_not_there_is_not_made_when_only_reading(tmp_path: Path) -> None:
    with pytest.raises(NoDatabase):
        open_database(tmp_path / "db.sqlite3", create=False)
    assert list(tmp_path.iterdir()) == []


# Binding: a temporary Slack failure is not a refusal


class SlackDown:
    """users.info that times out or answers 429, as SlackUsersDirectory reports it."""

    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        raise SlackUnavailable()


async def _audit_rows(store: SQLiteStore, event: str) -> list[AuditRecord]:
    return await store.list_audit(AuditFilter(event=event))


async def test_slack_failing_at_connect_with_email_match_keeps_the_link_and_is_audited(
    store: SQLiteStore,
) -> None:
    """The issue's input: REQUIRE_EMAIL_MATCH, users.info answers 429 at Connect. Before: the
    link was voided, "email addresses do not match", audited as email_mismatch."""
    service = service_for(store, directory=SlackDown(), require_email_match=True)  # type: ignore[arg-type]
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    link = await service.issue_link(ADA, PROFILE)
    with pytest.raises(SlackUnavailable):
        await service.confirm(link.nonce, user, WEB)
    assert (await service.pending(link.nonce, WEB)).used_at is None  # the link still works
    assert await service.bound_account(ADA) is None
    [error] = await _audit_rows(store, "slack_error")
    assert (error.username, error.slack_user_id, error.client) == ("ada", "U1", "127.0.0.1")
    assert await _audit_rows(store, "link_refused") == []
    # When Slack answers again, the same link binds.
    service = service_for(store, directory=Directory("ada@example.com"), require_email_match=True)
    binding = await service.confirm(link.nonce, user, WEB)
    assert binding.profile.real_name == "Ada Lovelace"


async def test_slack_failing_at_connect_without_email_match_binds_without_the_name(
    store: SQLiteStore,
) -> None:
    service = service_for(store, directory=SlackDown())  # type: ignore[arg-type]
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    link = await service.issue_link(ADA, PROFILE)
    binding = await service.confirm(link.nonce, user, WEB)
    assert binding.profile.real_name is None
    assert await _audit_rows(store, "slack_error") == []


async def test_the_binding_keeps_the_slack_persons_real_name(store: SQLiteStore) -> None:
    service = service_for(store)
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    link = await service.issue_link(ADA, PROFILE)
    assert (await service.confirm(link.nonce, user, WEB)).profile.real_name == "Ada Lovelace"
    account = await service.bound_account(ADA)
    assert account and account.binding.profile.real_name == "Ada Lovelace"


# Writes nobody limits


async def test_links_per_hour_are_limited_per_slack_identity(store: SQLiteStore) -> None:
    """The issue's input, scaled: many `link` commands from one Slack user."""
    clock = Clock()
    service = BindingService(
        store,
        TokenCipher("k"),
        AuditLog(store, clock),
        Directory(),
        BindingPolicy(links_per_hour=3),
        clock=clock,
    )
    for _ in range(3):
        await service.issue_link(ADA, PROFILE)
        clock.now += 60
    for _ in range(50):
        with pytest.raises(LinkRateLimited) as refused:
            await service.issue_link(ADA, PROFILE)
    assert refused.value.retry_after == 3600 - 180
    assert "ask again in 57 minutes" in str(refused.value)
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM binding_requests").fetchone() == (3,)
    assert len(await _audit_rows(store, "link_issued")) == 3
    other = SlackIdentity.from_ids(team_id="T1", user_id="U2", enterprise_id=None)
    await service.issue_link(other, PROFILE)  # someone else is not held back
    clock.now += 3600 - 180
    await service.issue_link(ADA, PROFILE)  # an hour after the first, one more


async def test_refused_links_add_a_bounded_number_of_audit_rows(store: SQLiteStore) -> None:
    """Made-up, used or expired links: anyone can present them, so one client gets at most
    CAPPED_PER_HOUR rows an hour per reason; other clients are still recorded."""
    clock = Clock()
    service = service_for(store, clock)
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    for n in range(CAPPED_PER_HOUR + 30):
        with pytest.raises(LinkNotFound):
            await service.pending(f"made-up-{n}", WEB)
    link = await service.issue_link(ADA, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    for _ in range(CAPPED_PER_HOUR + 30):
        with pytest.raises(LinkUsed):
            await service.pending(link.nonce, WEB)
    for _ in range(CAPPED_PER_HOUR + 30):
        await service.cancel("made-up", Actor(user=user, client="127.0.0.1"))
    rows = await store.list_audit(AuditFilter(limit=1000))
    reasons = [(r.event, r.detail) for r in rows if r.event in ("link_refused", "link_cancelled")]
    assert reasons.count(("link_refused", "unknown")) == CAPPED_PER_HOUR
    assert reasons.count(("link_refused", "used")) == CAPPED_PER_HOUR
    assert reasons.count(("link_cancelled", "unknown")) == CAPPED_PER_HOUR
    with pytest.raises(LinkNotFound):
        await service.pending("made-up", Actor(client="10.0.0.9"))
    assert len(await _audit_rows(store, "link_refused")) == 2 * CAPPED_PER_HOUR + 1
    clock.now += 3601
    with pytest.raises(LinkNotFound):
        await service.pending("made-up", WEB)
    assert len(await _audit_rows(store, "link_refused")) == 2 * CAPPED_PER_HOUR + 2


async def test_a_locked_out_client_adds_one_audit_row_per_window(store: SQLiteStore) -> None:
    """The issue's input, scaled: failed logins from a locked-out address."""
    from account_binding.accounts import AccountService
    from account_binding.login import LoginLimits, LoginLocked, LoginService

    clock = Clock()
    accounts = AccountService(store, clock)
    login = LoginService(
        accounts,
        store,
        AuditLog(store, clock),
        LoginLimits(max_failures_per_address=3, lockout_seconds=900, slowdown_seconds=0),
        clock,
    )
    for n in range(3):
        with pytest.raises(LoginFailed):
            await login.log_in(f"name-{n}", "wrong password", "10.0.0.1")
    for n in range(100):
        with pytest.raises(LoginLocked):
            await login.log_in(f"other-{n}", "wrong password", "10.0.0.1")
    assert [r.detail for r in await _audit_rows(store, "locked_out")] == ["refused"]
    assert len(await _audit_rows(store, "login_failed")) == 3
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM login_failures").fetchone() == (7,)
    clock.now += 901  # the next window: the first refusal in it is recorded again
    for n in range(3):
        with pytest.raises(LoginFailed):
            await login.log_in(f"late-{n}", "wrong password", "10.0.0.1")
    for _ in range(5):
        with pytest.raises(LoginLocked):
            await login.log_in("late", "wrong password", "10.0.0.1")
    assert len(await _audit_rows(store, "locked_out")) == 2


async def test_old_audit_entries_are_purged_after_the_retention(store: SQLiteStore) -> None:
    clock = Clock()
    audit = AuditLog(store, clock)
    await audit.record(AuditEvent.LOGIN, WEB)
    clock.now += 30 * 86400
    await audit.record(AuditEvent.LOGOUT, WEB)
    assert await audit.purge(retention_days=30) == 0  # the first is exactly 30 days old
    clock.now += 1
    assert await audit.purge(retention_days=30) == 1
    assert [r.event for r in await store.list_audit(AuditFilter())] == ["logout"]


async def test_the_hourly_purger_purges_the_audit_log(store: SQLiteStore) -> None:
    """The purger `run` starts removes audit entries older than AUDIT_RETENTION_DAYS."""
    from account_binding.accounts import AccountService
    from account_binding.authorization_flows import AuthorizationFlows
    from account_binding.login import LoginLimits, LoginService
    from account_binding.sessions import SessionService
    from launcher.compose import _purge_forever

    audit = AuditLog(store, lambda: int(time.time()) - 3 * 86400)
    await audit.record(AuditEvent.LOGIN, WEB)  # three days old
    await AuditLog(store).record(AuditEvent.LOGOUT, WEB)  # now
    purger = asyncio.create_task(
        _purge_forever(
            service_for(store),
            LoginService(AccountService(store), store, AuditLog(store), LoginLimits()),
            SessionService(store, idle_timeout=60, max_age=60),
            AuthorizationFlows(store),
            AuditLog(store),
            audit_retention_days=2,
            every_seconds=0.05,
        )
    )
    try:
        for _ in range(200):
            if len(await store.list_audit(AuditFilter())) == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
    assert [r.event for r in await store.list_audit(AuditFilter())] == ["logout"]


# Accounts and the audit log


async def test_an_email_another_account_has_is_refused_case_aside(store: SQLiteStore) -> None:
    from account_binding.accounts import AccountService

    accounts = AccountService(store)
    await accounts.add_user("ada", "Ada@Example.com", "a long password")
    with pytest.raises(EmailTaken, match=r"ada@EXAMPLE\.com"):
        await accounts.add_user("ada2", "ada@EXAMPLE.com", "a long password")
    with pytest.raises(EmailTaken):
        await store.create_user("ada3", "ADA@example.COM", "hash", 1)
    assert [u.username for u in await store.list_users()] == ["ada"]


async def test_concurrent_adds_of_one_email_make_one_account(tmp_path: Path) -> None:
    """The check runs in the inserting transaction: two stores (as two processes) race."""
    path = tmp_path / "db.sqlite3"
    stores = [SQLiteStore(path) for _ in range(2)]
    for each in stores:
        await each.open()
    outcomes = await asyncio.gather(
        *(
            each.create_user(f"user{n}", "same@example.com", "hash", 1)
            for n, each in enumerate(stores * 5)
        ),
        return_exceptions=True,
    )
    for each in stores:
        await each.close()
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert all(isinstance(o, EmailTaken) for o in outcomes if isinstance(o, Exception))


async def test_adding_a_user_is_audited(store: SQLiteStore) -> None:
    from account_binding.accounts import AccountService

    user = await AccountService(store, audit=AuditLog(store)).add_user(
        "ada", "ada@example.com", "a long password", added_by="cli"
    )
    [row] = await _audit_rows(store, "user_added")
    assert (row.user_id, row.username, row.detail) == (user.id, "ada", "cli")


async def test_an_unbound_row_names_the_internal_account(store: SQLiteStore) -> None:
    service = service_for(store)
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    link = await service.issue_link(ADA, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    await service.unbind(ADA, Actor())  # as the Slack side asks: no internal user known
    [row] = await _audit_rows(store, "unbound")
    assert (row.user_id, row.username, row.slack_user_id) == (user.id, "ada", "U1")
    # And when the app itself removes a binding whose token it cannot read.
    link = await service.issue_link(ADA, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE bindings SET api_token_ciphertext = 'unreadable'")
    assert await service.bound_account(ADA) is None
    rows = await _audit_rows(store, "unbound")
    assert [(r.user_id, r.username) for r in rows] == [(user.id, "ada")] * 2


# Secrets in representations


async def test_domain_records_hold_secrets_out_of_repr_and_str(store: SQLiteStore) -> None:
    service = service_for(store)
    user = await store.create_user("ada", "ada@example.com", "hash", 1)
    link = await service.issue_link(ADA, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    account = await service.bound_account(ADA)
    stored = await store.find_binding(ADA)
    assert account and stored
    for holder, secret in (
        (link, link.nonce),
        (account, account.api_token),
        (stored, stored.api_token_ciphertext),
    ):
        assert secret not in repr(holder) and secret not in str(holder), holder


# Who users are at OpenID providers and proxies


async def test_an_external_user_is_found_by_issuer_and_subject_only(store: SQLiteStore) -> None:
    made = await store.create_external_user("ada", "ada@example.com", "https://idp", "s-1", 1)
    assert await store.find_user_by_identity("https://idp", "s-1") == made
    assert await store.find_user_by_identity("https://other-idp", "s-1") is None
    assert await store.find_user_by_identity("https://idp", "ada") is None
    with pytest.raises(IdentityTaken):
        await store.create_external_user("ada2", "ada2@example.com", "https://idp", "s-1", 1)
    with pytest.raises(IdentityTaken):
        local = await store.create_user("bob", "bob@example.com", "hash", 1)
        await store.add_user_identity(local.id, "https://idp", "s-1", 1)
    await store.add_user_identity(made.id, "https://idp", "s-1", 2)  # already so: nothing


async def test_an_external_user_has_no_password_that_matches(store: SQLiteStore) -> None:
    from account_binding.accounts import AccountService

    await store.create_external_user("ada", "ada@example.com", "https://idp", "s-1", 1)
    accounts = AccountService(store)
    for guess in ("!", "", "ada", "a long password"):
        assert await accounts.authenticate("ada", guess) is None


async def test_an_external_user_cannot_take_a_local_accounts_name_or_email(
    store: SQLiteStore,
) -> None:
    await store.create_user("ada", "ada@example.com", "hash", 1)
    with pytest.raises(UsernameTaken):
        await store.create_external_user("ada", "other@example.com", "https://idp", "s-1", 1)
    with pytest.raises(EmailTaken):
        await store.create_external_user("ada2", "ADA@example.com", "https://idp", "s-1", 1)
    assert await store.find_user_by_identity("https://idp", "s-1") is None
    bob = await store.create_external_user("bob", "bob@example.com", "https://idp", "s-2", 1)
    with pytest.raises(EmailTaken):
        await store.set_user_email(bob.id, "Ada@example.com")
    await store.set_user_email(bob.id, "robert@example.com")
    assert (await store.find_user_by_identity("https://idp", "s-2")) == replace(
        bob, email="robert@example.com"
    )


async def test_a_second_store_on_the_file_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    """The site opens the file twice (the domain's store and the stand-in's). Reading the
    header with Python's own open() and closing it dropped every SQLite lock of the process
    (POSIX), so another process (an `account-binding audit`) took the app for gone,
    checkpointed and deleted the WAL it was still writing to: the app's later writes were
    seen by nobody else, and `unbind` found no binding."""
    import subprocess
    import sys

    path = tmp_path / "db.sqlite3"
    first, second = SQLiteStore(path), SQLiteStore(path)
    await first.open()
    await second.open()
    try:
        await first.create_user("ada", "ada@example.com", "hash", 1)
        count = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "print(c.execute('SELECT count(*) FROM users').fetchone()[0]); c.close()"
        )

        def other_process() -> str:
            done = subprocess.run(
                [sys.executable, "-c", count, str(path)],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
            return done.stdout.strip()

        assert await asyncio.to_thread(other_process) == "1"  # and it closes its connection
        assert (tmp_path / "db.sqlite3-wal").exists(), "the WAL in use was deleted"
        await first.create_user("grace", "grace@example.com", "hash", 1)
        assert await asyncio.to_thread(other_process) == "2"
    finally:
        await second.close()
        await first.close()
