"""Personal API tokens that expire (API_TOKEN_TTL), bindings without one (ACT_AS=service), and
what a bound account is: the domain on a real SQLite file, with an injected clock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from account_binding.api_tokens import ApiTokenAuthenticator
from account_binding.audit import Actor, AuditEvent, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.errors import BindingExpired
from account_binding.introspection import IntrospectionClient, TokenIntrospector
from account_binding.migrations import migrations
from account_binding.models import SlackIdentity, SlackPerson, SlackProfile, User
from account_binding.sqlite_store import SQLiteStore, open_database
from account_binding.store import AuditFilter
from account_binding.token_validity import TokenValidity
from account_binding.tokens import digest

ADA = SlackIdentity.from_ids(team_id="T1", user_id="U1", enterprise_id=None)
PROFILE = SlackProfile(user_name="ada", team_name="acme", app_id="A1")
WEB = Actor(client="127.0.0.1")
HOUR = 3600


class Clock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Directory:
    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return SlackPerson("Ada Lovelace", "Ada", "ada@example.com", None)


def service_for(
    store: SQLiteStore, clock: Clock, *, tokens: bool = True, ttl: int | None = None
) -> BindingService:
    return BindingService(
        store,
        TokenCipher("k"),
        AuditLog(store, clock),
        Directory(),
        BindingPolicy(issue_api_tokens=tokens, api_token_ttl=ttl),
        clock=clock,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    yield store
    await store.close()


async def bind(service: BindingService, user: User) -> str | None:
    """Bind ADA to `user`; the API token issued, or None."""
    link = await service.issue_link(ADA, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    account = await service.bound_account(ADA)
    assert account is not None
    return account.api_token


async def unbound_rows(store: SQLiteStore) -> list[tuple[str | None, str | None]]:
    rows = await store.list_audit(AuditFilter(event=str(AuditEvent.UNBOUND)))
    return [(row.username, row.detail) for row in rows]


async def test_a_token_with_a_ttl_works_until_it_expires_then_is_unknown_everywhere(
    store: SQLiteStore,
) -> None:
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    token = await bind(service_for(store, clock, ttl=HOUR), ada)
    assert token
    introspector = TokenIntrospector(store, clock)
    authenticator = ApiTokenAuthenticator(store, clock)

    clock.now += HOUR - 1
    active = await introspector.introspect(token)
    assert active is not None
    assert (active.issued_at, active.expires_at) == (1_000_000, 1_000_000 + HOUR)
    assert await authenticator.user_for(token) == ada

    clock.now += 1  # expires_at is the first second it no longer works
    assert await introspector.introspect(token) is None
    assert await authenticator.user_for(token) is None
    assert await store.find_token(digest(token), clock(), TokenValidity()) is None
    assert await store.find_token(digest(token), clock(), TokenValidity()) is None


async def test_the_current_ttl_bounds_a_token_issued_without_one_everywhere(
    store: SQLiteStore,
) -> None:
    """API_TOKEN_TTL set after binding: the token expires at its issue time plus the TTL, for
    the store, introspection, the stand-in's authenticator and the Slack side alike."""
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    token = await bind(service_for(store, clock), ada)  # no TTL when it was issued
    assert token
    now_bounded = TokenValidity(ttl=HOUR)
    introspector = TokenIntrospector(store, clock, now_bounded)
    authenticator = ApiTokenAuthenticator(store, clock, now_bounded)

    clock.now += HOUR - 1
    active = await introspector.introspect(token)
    assert active is not None and active.expires_at == 1_000_000 + HOUR
    assert await authenticator.user_for(token) == ada

    clock.now += 1
    assert await store.find_token(digest(token), clock(), now_bounded) is None
    assert await store.find_token(digest(token), clock(), now_bounded) is None
    assert await introspector.introspect(token) is None
    assert await authenticator.user_for(token) is None
    assert await store.find_token(digest(token), clock(), TokenValidity()) is not None
    with pytest.raises(BindingExpired):
        await service_for(store, clock, ttl=HOUR).bound_account(ADA)
    assert await unbound_rows(store) == [("ada", "token expired")]


async def test_a_stamped_expiry_earlier_than_the_current_ttl_still_holds(
    store: SQLiteStore,
) -> None:
    """Raising API_TOKEN_TTL does not lengthen a token: the earlier bound wins."""
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    token = await bind(service_for(store, clock, ttl=HOUR), ada)
    assert token
    clock.now += HOUR
    assert (
        await TokenIntrospector(store, clock, TokenValidity(ttl=24 * HOUR)).introspect(token)
        is None
    )
    with pytest.raises(BindingExpired):
        await service_for(store, clock, ttl=24 * HOUR).bound_account(ADA)


async def test_under_act_as_service_no_personal_token_is_honoured_until_switched_back(
    store: SQLiteStore,
) -> None:
    """ACT_AS=service: the Slack side presents no personal token, so none works anywhere;
    they are not revoked, so ACT_AS=token makes them work again."""
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    token = await bind(service_for(store, clock), ada)
    assert token
    service_mode = TokenValidity(personal_tokens=False)
    assert await store.find_token(digest(token), clock(), service_mode) is None
    assert await TokenIntrospector(store, clock, service_mode).introspect(token) is None
    assert await ApiTokenAuthenticator(store, clock, service_mode).user_for(token) is None
    account = await service_for(store, clock, tokens=False).bound_account(ADA)
    assert account is not None and account.api_token is None  # the binding is still used

    assert await TokenIntrospector(store, clock, TokenValidity()).introspect(token) is not None
    assert await ApiTokenAuthenticator(store, clock).user_for(token) == ada


async def test_without_a_ttl_a_token_never_expires(store: SQLiteStore) -> None:
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    service = service_for(store, clock)
    token = await bind(service, ada)
    assert token
    clock.now += 20 * 365 * 86400
    active = await TokenIntrospector(store, clock).introspect(token)
    assert active is not None and active.expires_at is None
    assert "exp" not in active.claims("https://binding.example")
    account = await service.bound_account(ADA)
    assert account is not None and account.api_token == token


async def test_an_expired_binding_is_removed_once_raising_binding_expired_and_audited(
    store: SQLiteStore,
) -> None:
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    service = service_for(store, clock, ttl=HOUR)
    token = await bind(service, ada)
    assert token

    clock.now += HOUR - 1
    assert await service.bound_account(ADA) is not None  # not yet
    clock.now += 1
    with pytest.raises(BindingExpired) as raised:
        await service.bound_account(ADA)
    assert raised.value.reason == "expired" and "link" in str(raised.value)
    assert await service.bound_account(ADA) is None  # once: then simply not bound
    assert await store.find_binding(ADA) is None
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT revoked_at FROM api_tokens").fetchall() == [(clock.now,)]
    assert await unbound_rows(store) == [("ada", "token expired")]


async def test_concurrent_commands_on_an_expired_binding_see_binding_expired_once(
    store: SQLiteStore,
) -> None:
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    service = service_for(store, clock, ttl=HOUR)
    await bind(service, ada)
    clock.now += HOUR
    outcomes = await asyncio.gather(
        *(service.bound_account(ADA) for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(o, BindingExpired) for o in outcomes) == 1
    assert sum(o is None for o in outcomes) == 4
    assert await unbound_rows(store) == [("ada", "token expired")]


async def test_service_mode_binds_without_a_token_and_uses_the_binding(
    store: SQLiteStore,
) -> None:
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    service = service_for(store, clock, tokens=False, ttl=HOUR)
    link = await service.issue_link(ADA, PROFILE)
    binding = await service.confirm(link.nonce, ada, WEB)
    assert binding.api_token_id is None
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM api_tokens").fetchone() == (0,)
        assert db.execute("SELECT api_token_id, api_token_ciphertext FROM bindings").fetchall() == [
            (None, None)
        ]
    clock.now += 10 * HOUR  # no token, so nothing to expire
    account = await service.bound_account(ADA)
    assert account is not None
    assert (account.api_token, account.user, account.subject) == (None, ada, "ada")
    assert await service.unbind(ADA, WEB) is not None  # a tokenless binding unbinds too


async def test_service_mode_uses_a_binding_made_with_a_token(store: SQLiteStore) -> None:
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    await bind(service_for(store, clock, ttl=HOUR), ada)
    clock.now += 2 * HOUR  # its token expired: irrelevant to a service credential
    account = await service_for(store, clock, tokens=False).bound_account(ADA)
    assert account is not None and account.api_token is None and account.subject == "ada"
    assert await unbound_rows(store) == []


async def test_a_tokenless_binding_under_act_as_token_is_removed_with_binding_expired(
    store: SQLiteStore,
) -> None:
    clock = Clock()
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    await bind(service_for(store, clock, tokens=False), ada)
    service = service_for(store, clock)  # the administrator switched to ACT_AS=token
    with pytest.raises(BindingExpired) as raised:
        await service.bound_account(ADA)
    assert raised.value.reason == "no_token"
    assert await service.bound_account(ADA) is None
    assert await unbound_rows(store) == [("ada", "no token for ACT_AS=token")]


async def test_a_bound_account_names_its_user_and_subject(store: SQLiteStore) -> None:
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    service = service_for(store, Clock())
    await bind(service, ada)
    account = await service.bound_account(ADA)
    assert account is not None
    assert account.user == ada and account.subject == "ada" == ada.subject
    assert account.binding.user_id == ada.id


def test_migration_m004_keeps_bindings_and_lets_a_binding_have_no_token(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    old = Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m004_token_expiry_and_tokenless_bindings")
    old.execute(
        "INSERT INTO users (username, email, password_hash, created_at) VALUES ('a', 'e', 'h', 1)"
    )
    old.execute(
        "INSERT INTO api_tokens (user_id, token_hash, label, created_at) VALUES (1, 't', 'l', 1)"
    )
    old.execute(
        "INSERT INTO bindings (user_id, scope_id, slack_user_id, team_id, api_token_id, "
        "api_token_ciphertext, created_at, real_name) VALUES (1, 'T', 'U', 'T', 1, 'c', 1, 'Ada')"
    )
    old.conn.commit()
    old.close()

    db = open_database(path)
    try:
        assert db.execute(
            "SELECT user_id, scope_id, api_token_id, api_token_ciphertext, real_name FROM bindings"
        ).fetchall() == [(1, "T", 1, "c", "Ada")]
        assert db.execute("SELECT expires_at FROM api_tokens").fetchall() == [(None,)]
        indexes = {tuple(index.columns): index.unique for index in db.table("bindings").indexes}
        # as the migrations leave them: m004's two, then m009's public_id and api_token_id
        assert indexes == {
            ("scope_id", "slack_user_id"): True,
            ("user_id",): False,
            ("public_id",): False,
            ("api_token_id",): False,
        }
        assert {fk.other_table for fk in db.table("bindings").foreign_keys} == {
            "users",
            "api_tokens",
        }
        db.execute(
            "INSERT INTO bindings (user_id, scope_id, slack_user_id, team_id, created_at) "
            "VALUES (1, 'T', 'U2', 'T', 2)"
        )
        with pytest.raises(sqlite3.IntegrityError):  # still bound at most once
            db.execute(
                "INSERT INTO bindings (user_id, scope_id, slack_user_id, team_id, created_at) "
                "VALUES (1, 'T', 'U', 'T', 2)"
            )
    finally:
        db.close()


def test_the_introspection_client_needs_both_its_id_and_its_secret() -> None:
    client = IntrospectionClient("company-api", "s" * 20 + "ecret-of-the-company-api")
    assert client.accepts("company-api", "s" * 20 + "ecret-of-the-company-api")
    assert not client.accepts("company-api", "s" * 20 + "ecret-of-the-company-apx")
    assert not client.accepts("other-api", "s" * 20 + "ecret-of-the-company-api")
    assert not client.accepts("", "")
    assert not client.accepts("cömpany-api", "sécret\udc80")  # never a TypeError
    assert "ecret-of-the-company-api" not in repr(client)
