"""The lifecycle's domain and store on a real SQLite file: what Slack's lifecycle events and an
administrator's disable, enable and remove end, and what they leave alone."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from account_binding.accounts import AccountService, ExternalAccountDisabled
from account_binding.audit import Actor, AuditEvent, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.errors import AccountDisabled, NoSuchUser
from account_binding.lifecycle import EVENT_MEMORY_SECONDS, Lifecycle
from account_binding.login import LoginLimits, LoginService
from account_binding.models import Binding, SlackIdentity, SlackPerson, SlackProfile, User
from account_binding.oauth_grants import GrantTimings, OAuthGrants
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import AuditFilter, NewGrant, SlackSelection
from account_binding.token_validity import TokenValidity
from account_binding.tokens import digest
from stand_in.store import SQLiteTodoStore

PASSWORD = "correct horse battery"
CLI = Actor(client="cli")
CIPHER = TokenCipher("test-secret-key-for-encryption-at-rest")
NONCES = itertools.count()


class Clock:
    def __init__(self, now: int | None = None) -> None:
        self.now = now or int(time.time())

    def __call__(self) -> int:
        return self.now


class Directory:
    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return SlackPerson("Someone", "someone", None, None)


class Told:
    """Records the DMs the lifecycle asks for (the Slack side's are tested end to end)."""

    def __init__(self) -> None:
        self.dms: list[tuple[str, str, str]] = []

    async def binding_ended(self, binding: Binding, username: str, reason: str) -> None:
        self.dms.append((binding.identity.user_id, username, reason))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    yield store
    await store.close()


def identity(user: str, team: str = "T1", enterprise: str | None = None) -> SlackIdentity:
    return SlackIdentity.from_ids(team_id=team, user_id=user, enterprise_id=enterprise)


async def bind(
    store: SQLiteStore,
    user: User,
    who: SlackIdentity,
    *,
    grant: NewGrant | None = None,
    now: int | None = None,
    token: str | None = None,
) -> Binding:
    now = now or int(time.time())
    n = next(NONCES)
    nonce = f"nonce-{n}"
    await store.add_binding_request(
        digest(nonce), who, SlackProfile(who.user_id.lower(), "acme"), now, now + 600
    )
    token = token or f"abt_token-{n}"
    return await store.complete_binding(
        digest(nonce), user.id, now, digest(token), CIPHER.encrypt(token), grant=grant
    )


async def link(store: SQLiteStore, who: SlackIdentity, nonce: str) -> None:
    now = int(time.time())
    await store.add_binding_request(
        digest(nonce), who, SlackProfile(who.user_id.lower(), "acme"), now, now + 600
    )


def grant_for(name: str) -> NewGrant:
    return NewGrant(
        issuer="https://provider.test",
        subject=name,
        access_token_ciphertext=CIPHER.encrypt(f"access-{name}"),
        refresh_token_ciphertext=CIPHER.encrypt(f"refresh-{name}"),
        expires_at=None,
        scope="openid",
    )


async def add(store: SQLiteStore, name: str) -> User:
    return await AccountService(store).add_user(name, f"{name}@example.com", PASSWORD)


def rows(store: SQLiteStore, sql: str, *params: object) -> list[tuple[object, ...]]:
    import sqlite3

    with sqlite3.connect(store.path) as db:
        return db.execute(sql, params).fetchall()


# Slack's lifecycle events


async def test_a_delivery_is_handled_once_and_forgotten_after_a_day(store: SQLiteStore) -> None:
    clock = Clock()
    lifecycle = Lifecycle(store, AuditLog(store), clock=clock)
    assert await lifecycle.first_delivery("Ev1") is True
    assert await lifecycle.first_delivery("Ev1") is False
    assert await lifecycle.first_delivery("Ev2") is True
    clock.now += EVENT_MEMORY_SECONDS + 1
    assert await lifecycle.first_delivery("Ev3") is True
    assert await lifecycle.purge() == 2  # Ev1 and Ev2; Ev3 is a second old
    assert rows(store, "SELECT event_id FROM slack_events") == [("Ev3",)]


async def test_the_hourly_purger_forgets_old_deliveries(store: SQLiteStore) -> None:
    from account_binding.authorization_flows import AuthorizationFlows
    from account_binding.sessions import SessionService
    from launcher.compose import _purge_forever

    old = Lifecycle(store, AuditLog(store), clock=lambda: int(time.time()) - 2 * 86400)
    await old.first_delivery("EvOld")
    await Lifecycle(store, AuditLog(store)).first_delivery("EvNew")
    bindings = BindingService(store, CIPHER, AuditLog(store), Directory(), BindingPolicy())
    purger = asyncio.create_task(
        _purge_forever(
            bindings,
            LoginService(AccountService(store), store, AuditLog(store), LoginLimits()),
            SessionService(store, idle_timeout=60, max_age=60),
            AuthorizationFlows(store),
            AuditLog(store),
            audit_retention_days=365,
            every_seconds=0.05,
            slack_events=Lifecycle(store, AuditLog(store)),
        )
    )
    try:
        for _ in range(200):
            if len(rows(store, "SELECT * FROM slack_events")) == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
    assert rows(store, "SELECT event_id FROM slack_events") == [("EvNew",)]


async def test_a_workspace_gone_ends_its_bindings_tokens_and_links_and_no_others(
    store: SQLiteStore,
) -> None:
    ada, grace = await add(store, "ada"), await add(store, "grace")
    await bind(store, ada, identity("U1", "T1"))
    await bind(store, grace, identity("U2", "T1"))
    await bind(store, ada, identity("U1", "T2"))  # the same person ID in another workspace
    await link(store, identity("U3", "T1"), "pending-t1")
    await link(store, identity("U3", "T2"), "pending-t2")
    lifecycle = Lifecycle(store, AuditLog(store))

    removed = await lifecycle.slack_went_away(SlackSelection.workspace("T1"), "app_uninstalled")

    assert sorted(b.identity.user_id for b in removed) == ["U1", "U2"]
    assert rows(store, "SELECT team_id, slack_user_id FROM bindings") == [("T2", "U1")]
    assert rows(
        store, "SELECT label FROM api_tokens WHERE revoked_at IS NOT NULL ORDER BY label"
    ) == [("Slack T1/U1",), ("Slack T1/U2",)]
    t1 = await store.get_binding_request(digest("pending-t1"))
    t2 = await store.get_binding_request(digest("pending-t2"))
    assert t1 is not None and t1.used_at is not None and t1.ended_reason == "ended"
    assert t2 is not None and t2.used_at is None
    audit = await store.list_audit(AuditFilter(event="binding_removed_by_slack"))
    assert sorted((r.username, r.slack_user_id, r.detail, r.client) for r in audit) == [
        ("ada", "U1", "app_uninstalled", "slack"),
        ("grace", "U2", "app_uninstalled", "slack"),
    ]
    # Delivered again (Slack's order is not guaranteed): nothing more goes, nothing is audited.
    assert await lifecycle.slack_went_away(SlackSelection.workspace("T1"), "tokens_revoked") == []
    assert len(await store.list_audit(AuditFilter(event="binding_removed_by_slack"))) == 2


async def test_an_organisation_gone_ends_every_binding_keyed_on_it(store: SQLiteStore) -> None:
    ada = await add(store, "ada")
    await bind(store, ada, identity("W1", "T1", "E1"))
    await bind(store, ada, identity("W2", "T2", "E1"))  # another workspace of the organisation
    await bind(store, ada, identity("W3", "T3", "E2"))  # another organisation
    await Lifecycle(store, AuditLog(store)).slack_went_away(
        SlackSelection.organisation("E1"), "app_uninstalled"
    )
    assert rows(store, "SELECT scope_id, slack_user_id FROM bindings") == [("E2", "W3")]


async def test_a_slack_person_gone_ends_only_their_binding_and_links(store: SQLiteStore) -> None:
    ada = await add(store, "ada")
    await bind(store, ada, identity("U1"))
    await bind(store, ada, identity("U2"))
    await link(store, identity("U1"), "theirs")
    await Lifecycle(store, AuditLog(store)).slack_went_away(
        SlackSelection.person(identity("U1")), "user_change"
    )
    assert rows(store, "SELECT slack_user_id FROM bindings") == [("U2",)]
    theirs = await store.get_binding_request(digest("theirs"))
    assert theirs is not None and theirs.ended_reason == "ended"
    [entry] = await store.list_audit(AuditFilter(event="binding_removed_by_slack"))
    assert (entry.username, entry.slack_user_id, entry.detail) == ("ada", "U1", "user_change")


class Provider:
    """An authorization server's revocation endpoint: one token's revocation never answers."""

    def __init__(self, hangs: str) -> None:
        self.hangs = hangs
        self.revoked: list[str] = []

    async def revoke(self, token: str, *, token_type_hint: str = "") -> bool:
        if token == self.hangs:
            await asyncio.Event().wait()
        self.revoked.append(token)
        return True

    async def refresh(self, refresh_token: str) -> object:
        raise AssertionError("not refreshed here")


async def test_grants_are_revoked_together_and_one_that_hangs_holds_up_none_of_the_others(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    ada = await add(store, "ada")
    for n in range(12):  # more than are revoked at once
        await bind(store, ada, identity(f"U{n}"), grant=grant_for(f"u{n}"))
    provider = Provider(hangs="refresh-u0")
    grants = OAuthGrants(
        store,
        CIPHER,
        provider,  # type: ignore[arg-type]
        AuditLog(store),
        issuer="https://provider.test",
        provider_name="Provider",
        timings=GrantTimings.for_provider_timeout(1),
    )
    lifecycle = Lifecycle(store, AuditLog(store), grants=grants, revoke_deadline_seconds=0.5)
    with caplog.at_level(logging.WARNING):
        removed = await asyncio.wait_for(  # a revocation without its deadline fails, not hangs
            lifecycle.slack_went_away(SlackSelection.workspace("T1"), "tokens_revoked"), 10
        )
    assert len(removed) == 12
    assert rows(store, "SELECT count(*) FROM oauth_grants") == [(0,)]
    expected = {f"{kind}-u{n}" for n in range(1, 12) for kind in ("refresh", "access")}
    assert set(provider.revoked) == expected
    assert "took longer than 0.5s" in caplog.text


# Internal users disabled, enabled, removed


async def test_disabling_a_user_ends_their_bindings_tokens_and_sessions_and_notes_why(
    store: SQLiteStore,
) -> None:
    ada, grace = await add(store, "ada"), await add(store, "grace")
    await bind(store, ada, identity("U1"))
    await bind(store, ada, identity("U2", "T2"))
    await bind(store, grace, identity("U3"))
    await store.create_session(digest("ada-session"), ada.id, "csrf", int(time.time()))
    await store.create_session(digest("grace-session"), grace.id, "csrf", int(time.time()))
    told = Told()
    lifecycle = Lifecycle(store, AuditLog(store), notifier=told)

    ended = await lifecycle.disable_user("ADA ", CLI)

    assert [r.binding.identity.user_id for r in ended.removed] == ["U1", "U2"]
    assert rows(store, "SELECT slack_user_id FROM bindings") == [("U3",)]
    assert rows(store, "SELECT user_id FROM sessions") == [(grace.id,)]
    assert rows(
        store, "SELECT count(*) FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL", ada.id
    ) == [(0,)]
    user = await store.get_user(ada.id)
    assert user is not None and user.disabled_at is not None
    noted = await store.ended_binding(identity("U2", "T2"))
    assert noted is not None and (noted.username, noted.reason) == ("ada", "disabled")
    assert await store.ended_binding(identity("U3")) is None
    assert sorted(told.dms) == [("U1", "ada", "disabled"), ("U2", "ada", "disabled")]
    audit = await store.list_audit(AuditFilter(username="ada"))
    assert sorted(
        (r.event, r.slack_user_id, r.client, r.detail) for r in audit if r.client == "cli"
    ) == [
        ("unbound", "U1", "cli", "user_disabled"),
        ("unbound", "U2", "cli", "user_disabled"),
        ("user_disabled", None, "cli", None),
    ]

    again = await lifecycle.disable_user("ada", CLI)
    assert again.removed == [] and again.user.disabled_at == user.disabled_at
    with pytest.raises(NoSuchUser):
        await lifecycle.disable_user("nobody", CLI)


async def test_nothing_binds_to_a_disabled_user_and_the_link_stays_for_another(
    store: SQLiteStore,
) -> None:
    ada, grace = await add(store, "ada"), await add(store, "grace")
    await bind(store, ada, identity("U1"))
    await Lifecycle(store, AuditLog(store)).disable_user("ada", CLI)
    bindings = BindingService(store, CIPHER, AuditLog(store), Directory(), BindingPolicy())
    nonce = "a-link-for-U1"
    await link(store, identity("U1"), nonce)

    with pytest.raises(AccountDisabled):
        await bindings.confirm(nonce, ada, Actor(client="127.0.0.1"))

    request = await store.get_binding_request(digest(nonce))
    assert request is not None and request.used_at is None
    [refused] = await store.list_audit(AuditFilter(event="link_refused"))
    assert refused.detail == "account_disabled"
    assert await store.ended_binding(identity("U1")) is not None
    await bindings.confirm(nonce, grace, Actor(client="127.0.0.1"))  # another account binds
    assert await store.ended_binding(identity("U1")) is None  # and they are told no more


async def test_a_disabled_account_logs_in_nowhere(store: SQLiteStore) -> None:
    ada = await add(store, "ada")
    login = LoginService(AccountService(store), store, AuditLog(store), LoginLimits())
    external = await AccountService(store).sign_in_external("https://idp.test", "sub-1", "kim", "")
    lifecycle = Lifecycle(store, AuditLog(store))
    await lifecycle.disable_user("ada", CLI)
    await lifecycle.disable_user("kim", CLI)

    with pytest.raises(AccountDisabled):
        await login.log_in("ada", PASSWORD, "127.0.0.1")
    with pytest.raises(ExternalAccountDisabled) as refused:
        await AccountService(store).sign_in_external("https://idp.test", "sub-1", "kim", "")
    assert refused.value.status == 403 and refused.value.reason == "disabled"
    failed = await store.list_audit(AuditFilter(event="login_failed"))
    assert [(r.username, r.detail) for r in failed] == [("ada", "disabled")]

    await lifecycle.enable_user("ada", CLI)
    await lifecycle.enable_user("kim", CLI)
    assert (await login.log_in("ada", PASSWORD, "127.0.0.1")).id == ada.id
    signed_in = await AccountService(store).sign_in_external("https://idp.test", "sub-1", "kim", "")
    assert signed_in.id == external.id


async def test_a_disabled_users_token_is_refused_even_if_its_revocation_were_undone(
    store: SQLiteStore,
) -> None:
    ada = await add(store, "ada")
    await bind(store, ada, identity("U1"), token="abt_token-of-ada")
    token_hash = digest("abt_token-of-ada")
    assert await store.find_token(token_hash, int(time.time()), TokenValidity()) is not None
    await Lifecycle(store, AuditLog(store)).disable_user("ada", CLI)
    assert await store.find_token(token_hash, int(time.time()), TokenValidity()) is None
    rows(store, "UPDATE api_tokens SET revoked_at = NULL")  # a restored backup, say
    assert await store.find_token(token_hash, int(time.time()), TokenValidity()) is None


async def test_enabling_lets_a_user_be_bound_again_and_forgets_why_their_binding_ended(
    store: SQLiteStore,
) -> None:
    ada = await add(store, "ada")
    await bind(store, ada, identity("U1"))
    lifecycle = Lifecycle(store, AuditLog(store))
    await lifecycle.disable_user("ada", CLI)

    assert await lifecycle.enable_user("ada", CLI) is True
    assert await lifecycle.enable_user("ada", CLI) is False

    user = await store.get_user(ada.id)
    assert user is not None and user.disabled_at is None
    assert rows(store, "SELECT count(*) FROM bindings") == [(0,)]  # none comes back
    assert await store.ended_binding(identity("U1")) is None
    await bind(store, ada, identity("U1"))
    events = [r.detail for r in await store.list_audit(AuditFilter(event="user_enabled"))]
    assert events == ["was not disabled", None]


async def test_removing_a_user_deletes_everything_keyed_on_them_but_the_audit_log(
    store: SQLiteStore,
) -> None:
    ada, grace = await add(store, "ada"), await add(store, "grace")
    await bind(store, ada, identity("U1"))
    await bind(store, ada, identity("U2"), grant=grant_for("ada"))
    await bind(store, grace, identity("U3"))
    await store.add_user_identity(ada.id, "https://idp.test", "sub-ada", int(time.time()))
    await store.create_session(digest("ada-session"), ada.id, "csrf", int(time.time()))
    todos = SQLiteTodoStore(store.path)
    try:
        await todos.add_todo(ada.id, "Water the plants", int(time.time()))
        await todos.add_todo(grace.id, "Feed the cat", int(time.time()))
    finally:
        await todos.close()
    lifecycle = Lifecycle(store, AuditLog(store))

    ended = await lifecycle.remove_user("ada", CLI)

    assert [r.binding.identity.user_id for r in ended.removed] == ["U1", "U2"]
    for table in ("api_tokens", "sessions", "user_identities", "bindings", "todos"):
        owners = rows(store, f"SELECT user_id FROM {table}")
        assert (ada.id,) not in owners, table
    assert rows(store, "SELECT count(*) FROM oauth_grants") == [(0,)]
    assert rows(store, "SELECT title FROM todos") == [("Feed the cat",)]
    assert rows(store, "SELECT username FROM users") == [("grace",)]
    for who in (identity("U1"), identity("U2")):
        noted = await store.ended_binding(who)
        assert noted is not None
        assert (noted.username, noted.reason, noted.user_id) == ("ada", "removed", None)
    kept = await store.list_audit(AuditFilter(username="ada"))
    assert [(r.event, r.slack_user_id, r.detail) for r in kept] == [
        ("unbound", "U2", "user_removed"),
        ("unbound", "U1", "user_removed"),
        ("user_removed", None, None),
    ]
    with pytest.raises(NoSuchUser):
        await lifecycle.remove_user("ada", CLI)


async def test_a_disabled_user_removed_later_is_said_to_be_removed(store: SQLiteStore) -> None:
    ada, grace = await add(store, "ada"), await add(store, "grace")
    await bind(store, ada, identity("U1"))
    await bind(store, ada, identity("U2"))
    lifecycle = Lifecycle(store, AuditLog(store))
    await lifecycle.disable_user("ada", CLI)
    await bind(store, grace, identity("U1"))  # U1 connected another account meanwhile

    ended = await lifecycle.remove_user("ada", CLI)

    assert ended.removed == []  # gone when disabled
    assert await store.ended_binding(identity("U1")) is None
    noted = await store.ended_binding(identity("U2"))
    assert noted is not None and (noted.reason, noted.user_id) == ("removed", None)


async def test_a_user_removed_while_their_link_was_open_binds_nothing(store: SQLiteStore) -> None:
    ada = await add(store, "ada")
    await link(store, identity("U1"), "open")
    await Lifecycle(store, AuditLog(store)).remove_user("ada", CLI)
    bindings = BindingService(store, CIPHER, AuditLog(store), Directory(), BindingPolicy())
    with pytest.raises(AccountDisabled) as refused:
        await bindings.confirm("open", ada, Actor(client="127.0.0.1"))
    assert refused.value.removed
    request = await store.get_binding_request(digest("open"))
    assert request is not None and request.used_at is None


def test_audit_events_are_listed_by_the_cli() -> None:
    events = {str(e) for e in AuditEvent}
    assert {"binding_removed_by_slack", "user_disabled", "user_enabled", "user_removed"} <= events


async def test_a_providers_token_acts_for_no_disabled_account(store: SQLiteStore) -> None:
    """ACT_AS=oauth2: the stand-in takes the provider's access tokens of known people only
    while their account is enabled."""
    from stand_in.auth import ProviderTokenUsers

    class UserInfo:
        async def userinfo(self, access_token: str) -> dict[str, object]:
            return {"sub": "sub-ada"}

    ada = await add(store, "ada")
    await store.add_user_identity(ada.id, "https://provider.test", "sub-ada", int(time.time()))
    users = ProviderTokenUsers(UserInfo(), store, "https://provider.test", "Provider")
    assert (await users.user_for("access")) is not None
    await Lifecycle(store, AuditLog(store)).disable_user("ada", CLI)
    assert (await users.user_for("access")) is None
