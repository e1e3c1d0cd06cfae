"""Unbinding in the domain and the store (issue 10): bindings' public IDs, removing one binding
for its Slack person or its owner only, and when the Slack side last used a binding."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import write_lock_held
from sqlite_utils import Database
from test_store import ADA, PROFILE, WEB, Clock, service_for

import account_binding.sqlite_store as sqlite_store
from account_binding.audit import Actor
from account_binding.binding import USE_RECORD_SECONDS, WEB_REMOVAL, BindingService, is_public_id
from account_binding.migrations import migrations
from account_binding.models import Binding, SlackIdentity, User
from account_binding.sqlite_store import SQLiteStore, open_database
from account_binding.store import AuditFilter

BOB = SlackIdentity.from_ids(team_id="T1", user_id="U2", enterprise_id=None)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    yield store
    await store.close()


async def bind(service: BindingService, user: User, identity: SlackIdentity = ADA) -> Binding:
    """Bind `identity` to `user` as the site does; the binding as the store now reads it."""
    link = await service.issue_link(identity, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    connection = await service.connection_of(identity)
    assert connection is not None
    return connection.binding


async def unbound_rows(store: SQLiteStore) -> list[tuple[str | None, str | None, str | None]]:
    rows = await store.list_audit(AuditFilter(event="unbound"))
    return [(r.username, r.slack_user_id, r.detail) for r in rows]


# Public IDs


async def test_every_binding_gets_a_public_id_that_is_never_reused(store: SQLiteStore) -> None:
    """SQLite reuses the integer ID of the newest row once it is deleted; the public ID that
    buttons and pages carry is new for every binding, whoever inserts it."""
    service = service_for(store)
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    first = await bind(service, ada)
    assert first.public_id is not None and is_public_id(first.public_id)
    await service.unbind(ADA, WEB)
    second = await bind(service, ada)
    assert second.id == first.id  # the integer ID came back...
    assert second.public_id != first.public_id and is_public_id(second.public_id)  # ...not this
    with sqlite3.connect(store.path) as db:  # a row inserted by any other code gets one too
        db.execute(
            "INSERT INTO bindings (user_id, scope_id, slack_user_id, team_id, created_at) "
            "VALUES (?, 'T1', 'U9', 'T1', 1)",
            [ada.id],
        )
        ids = [row[0] for row in db.execute("SELECT public_id FROM bindings")]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(is_public_id(i) for i in ids)


def test_bindings_made_before_m007_get_a_public_id(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    old = Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m007_link_lifecycle_and_account_management")
    old.execute(
        "INSERT INTO users (username, email, password_hash, created_at) VALUES ('a', 'e', 'h', 1)"
    )
    for user_id in ("U1", "U2"):
        old.execute(
            "INSERT INTO bindings (user_id, scope_id, slack_user_id, team_id, created_at) "
            "VALUES (1, 'T', ?, 'T', 1)",
            [user_id],
        )
    old.conn.commit()
    old.close()
    db = open_database(path)
    try:
        ids = [row[0] for row in db.execute("SELECT public_id FROM bindings")]
        assert len(set(ids)) == 2 and all(is_public_id(i) for i in ids)
    finally:
        db.close()


def test_only_public_ids_of_their_shape_are_taken() -> None:
    assert is_public_id("0123456789abcdef" * 2)
    for value in ("0123456789ABCDEF" * 2, "1", "", "g" * 32, "0" * 33, " " + "0" * 31, None, 7):
        assert not is_public_id(value)


# Slack's Disconnect: only the binding the question named, only for its Slack person


async def test_disconnect_removes_the_named_binding_of_the_slack_person_only(
    store: SQLiteStore,
) -> None:
    service = service_for(store)
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    bob = await store.create_user("bob", "bob@example.com", "hash", 1)
    adas = await bind(service, ada)
    bobs = await bind(service, bob, BOB)
    assert adas.public_id and bobs.public_id
    slack_ada = Actor(client="slack:U1")
    # Ada's click naming Bob's binding removes nothing: it is not hers.
    assert await service.unbind_binding(ADA, bobs.public_id, slack_ada) is None
    assert await service.connection_of(BOB) is not None
    assert await service.unbind_binding(ADA, "not an id", slack_ada) is None
    removed = await service.unbind_binding(ADA, adas.public_id, slack_ada)
    assert removed is not None and removed.id == adas.id
    assert await service.connection_of(ADA) is None
    assert await unbound_rows(store) == [("ada", "U1", None)]
    # Its token is revoked with it.
    with sqlite3.connect(store.path) as db:
        revoked = db.execute(
            "SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = ?", [adas.api_token_id]
        ).fetchone()
    assert revoked == (1,)


async def test_a_stale_question_does_not_remove_a_newer_binding(store: SQLiteStore) -> None:
    service = service_for(store)
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    asked_about = await bind(service, ada)
    assert asked_about.public_id
    await service.unbind(ADA, WEB)  # disconnected another way meanwhile
    newer = await bind(service, ada)
    assert newer.id == asked_about.id  # the same integer ID: only the public ID tells them apart
    assert await service.unbind_binding(ADA, asked_about.public_id, WEB) is None
    connection = await service.connection_of(ADA)
    assert connection is not None and connection.binding.public_id == newer.public_id
    assert await unbound_rows(store) == [("ada", "U1", None)]  # only the first removal


# The web page's Remove: only the logged-in person's own binding


async def test_remove_binding_of_removes_only_the_persons_own_binding(
    store: SQLiteStore,
) -> None:
    service = service_for(store)
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    bob = await store.create_user("bob", "bob@example.com", "hash", 1)
    adas = await bind(service, ada)
    bobs = await bind(service, bob, BOB)
    assert adas.public_id and bobs.public_id
    as_ada = Actor(user=ada, client="127.0.0.1")
    assert await service.binding_of(ada, bobs.public_id) is None
    assert await service.remove_binding_of(ada, bobs.public_id, as_ada) is None
    assert await service.connection_of(BOB) is not None
    found = await service.binding_of(ada, adas.public_id)
    assert found is not None and found.id == adas.id
    removed = await service.remove_binding_of(ada, adas.public_id, as_ada)
    assert removed is not None and removed.identity == ADA
    assert await service.remove_binding_of(ada, adas.public_id, as_ada) is None  # once
    assert await service.connection_of(ADA) is None
    [row] = await store.list_audit(AuditFilter(event="unbound"))
    assert (row.username, row.client, row.slack_user_id, row.detail) == (
        "ada",
        "127.0.0.1",
        "U1",
        WEB_REMOVAL,
    )


async def test_the_store_removes_by_public_id_only_for_an_owner(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="only for its owner"):
        await store.remove_binding_by_public_id("0" * 32, 1)


# Last use


async def test_use_is_recorded_at_most_once_a_minute_per_binding(store: SQLiteStore) -> None:
    clock = Clock()
    service = service_for(store, clock)
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    binding = await bind(service, ada)
    assert binding.last_used_at is None
    writes: list[int] = []
    note = store.note_binding_used

    async def counting(binding_id: int, public_id: str, now: int, not_since: int) -> bool:
        writes.append(now)
        return await note(binding_id, public_id, now, not_since)

    store.note_binding_used = counting  # type: ignore[method-assign]
    await service.record_use(binding)
    used_at = clock.now
    for step in (1, USE_RECORD_SECONDS - 2):
        clock.now += step
        binding = await bind_again_read(service)
        await service.record_use(binding)
        assert binding.last_used_at == used_at
    assert writes == [used_at]  # no write within the minute
    clock.now = used_at + USE_RECORD_SECONDS
    await service.record_use(await bind_again_read(service))
    assert (await bind_again_read(service)).last_used_at == used_at + USE_RECORD_SECONDS
    # Two processes holding the same stale read: the store writes once.
    stale = await bind_again_read(service)
    clock.now += USE_RECORD_SECONDS
    assert await note(stale.id, stale.public_id or "", clock.now, clock.now - 59)
    assert not await note(stale.id, stale.public_id or "", clock.now, clock.now - 59)


async def bind_again_read(service: BindingService) -> Binding:
    connection = await service.connection_of(ADA)
    assert connection is not None
    return connection.binding


async def test_recording_a_use_never_fails_on_a_busy_database(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", 0.3)
    service = service_for(store)
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    binding = await bind(service, ada)
    with write_lock_held(store.path):
        await service.record_use(binding)  # StoreBusy is swallowed
    assert (await bind_again_read(service)).last_used_at is None


async def test_bindings_of_carry_when_bound_and_last_used(store: SQLiteStore) -> None:
    clock = Clock()
    service = service_for(store, clock)
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    binding = await bind(service, ada)
    clock.now += 3600
    await service.record_use(binding)
    [listed] = await service.bindings_of(ada)
    assert (listed.created_at, listed.last_used_at) == (clock.now - 3600, clock.now)
    assert listed.public_id == binding.public_id
