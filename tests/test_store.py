"""The SQLite store on a real file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from account_binding.audit import Actor, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.errors import AlreadyBound, LinkExpired, LinkNotFound, LinkUsed, UsernameTaken
from account_binding.migrations import migrations
from account_binding.models import SlackIdentity, SlackPerson, SlackProfile
from account_binding.sqlite_store import SQLiteStore, open_database
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
    assert {"users", "api_tokens", "binding_requests", "bindings", "sessions", "todos"} <= set(
        db.table_names()
    )
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
