"""Enterprise Grid in the domain, on a real SQLite file: a workspace that joins an
organisation keeps its bindings (`BindingService.settle_identity`), and two bindings of one
person that come under one key collapse into the older."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from account_binding.audit import Actor, AuditEvent, AuditLog
from account_binding.binding import BindingPolicy, BindingService
from account_binding.crypto import TokenCipher
from account_binding.models import SlackIdentity, SlackPerson, SlackProfile, User
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import AuditFilter, NewGrant
from account_binding.token_validity import TokenValidity
from account_binding.tokens import digest

#: Ada in workspace T1 before it joined an organisation, and after it joined E1.
BEFORE = SlackIdentity.from_ids(team_id="T1", user_id="U1", enterprise_id=None)
AFTER = SlackIdentity.from_ids(team_id="T1", user_id="U1", enterprise_id="E1")
#: The same person seen from another workspace of E1.
FROM_T2 = SlackIdentity.from_ids(team_id="T2", user_id="U1", enterprise_id="E1")
#: Workspace T2 before it joined.
T2_BEFORE = SlackIdentity.from_ids(team_id="T2", user_id="U1", enterprise_id=None)
PROFILE = SlackProfile(user_name="ada", team_name="one", app_id="A1")
WEB = Actor(client="127.0.0.1")


class Clock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Directory:
    async def person(self, identity: SlackIdentity) -> SlackPerson | None:
        return SlackPerson("Ada Lovelace", "Ada", "ada@example.com", None)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: SQLiteStore, clock: Clock) -> BindingService:
    return BindingService(
        store,
        TokenCipher("k"),
        AuditLog(store, clock),
        Directory(),
        BindingPolicy(ttl_seconds=600),
        clock=clock,
    )


async def bind(service: BindingService, identity: SlackIdentity, user: User) -> str:
    """Bind `identity` to `user` through a link, as the site does; the API token issued."""
    link = await service.issue_link(identity, PROFILE)
    await service.confirm(link.nonce, user, WEB)
    account = await service.bound_account(identity)
    assert account is not None and account.api_token
    return account.api_token


async def events(store: SQLiteStore, event: AuditEvent) -> list[tuple[object, ...]]:
    rows = await store.list_audit(AuditFilter(event=str(event)))
    return [(r.username, r.scope_id, r.slack_user_id, r.detail) for r in rows]


def rows(store: SQLiteStore, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(store.path) as db:
        return db.execute(sql).fetchall()


async def token_works(store: SQLiteStore, token: str, clock: Clock) -> bool:
    validity = TokenValidity(personal_tokens=True, ttl=None)
    return await store.find_token(digest(token), clock(), validity) is not None


async def test_a_binding_from_before_the_workspace_joined_moves_to_the_organisation(
    store: SQLiteStore, service: BindingService, clock: Clock
) -> None:
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    token = await bind(service, BEFORE, ada)
    # Before settling, the organisation's key finds nothing.
    assert await service.bound_account(AFTER) is None

    clock.now += 60
    settled = await service.settle_identity(AFTER, team_name="Acme Org")
    assert settled.moved is not None and settled.merged is None
    for seen_from in (AFTER, FROM_T2):  # one binding, whichever workspace of E1 they use
        account = await service.bound_account(seen_from)
        assert account is not None and account.user == ada and account.api_token == token
    assert rows(store, "SELECT scope_id, team_id, enterprise_id, team_name FROM bindings") == [
        ("E1", "T1", "E1", "Acme Org")  # bound from T1, now keyed on E1 and named as it
    ]
    assert await token_works(store, token, clock)
    assert await events(store, AuditEvent.BINDING_REKEYED) == [
        (
            "ada",
            "E1",
            "U1",
            f"binding {settled.moved.id} moved from workspace T1 to organisation E1",
        )
    ]
    # Settled once: the next command from there writes nothing.
    assert await service.settle_identity(AFTER) == type(settled)()
    assert len(await events(store, AuditEvent.BINDING_REKEYED)) == 1


async def test_identities_outside_grid_are_left_alone(
    store: SQLiteStore, service: BindingService
) -> None:
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    await bind(service, BEFORE, ada)
    assert (await service.settle_identity(BEFORE)).moved is None
    # Another organisation's T9 is not T1: nothing keyed on T9 moves T1's binding.
    other = SlackIdentity.from_ids(team_id="T9", user_id="U1", enterprise_id="E9")
    assert (await service.settle_identity(other)).moved is None
    assert rows(store, "SELECT scope_id FROM bindings") == [("T1",)]


async def test_a_pending_link_moves_and_binds_under_the_organisation(
    store: SQLiteStore, service: BindingService, clock: Clock
) -> None:
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    link = await service.issue_link(BEFORE, PROFILE)
    clock.now += 10
    settled = await service.settle_identity(AFTER)
    assert settled.links_moved == 1 and settled.moved is None
    assert await events(store, AuditEvent.BINDING_REKEYED) == [
        (None, "E1", "U1", "1 link moved from workspace T1 to organisation E1")
    ]
    binding = await service.confirm(link.nonce, ada, WEB)
    assert binding.identity.scope_id == "E1"
    assert await service.bound_account(FROM_T2) is not None


async def test_of_live_links_under_both_keys_only_the_newest_stays_usable(
    store: SQLiteStore, service: BindingService, clock: Clock
) -> None:
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    from_the_org = await service.issue_link(FROM_T2, PROFILE)
    clock.now += 10
    from_the_workspace = await service.issue_link(BEFORE, PROFILE)  # the newer
    await service.settle_identity(AFTER)
    older = await service.lookup(from_the_org.nonce)
    assert older is not None and older.ended_reason == "replaced"
    binding = await service.confirm(from_the_workspace.nonce, ada, WEB)
    assert binding.identity.scope_id == "E1"


async def test_two_bindings_under_one_key_keep_the_older_and_revoke_the_other(
    store: SQLiteStore, service: BindingService, clock: Clock
) -> None:
    """The person bound from workspace T1 before it joined (as ada), and from the
    organisation through T2 (as bob): when T1's binding reaches E1, ada's, the older, stays."""
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    bob = await store.create_user("bob", "bob@example.com", "hash", 1)
    ada_token = await bind(service, BEFORE, ada)
    clock.now += 3600
    bob_token = await bind(service, FROM_T2, bob)

    clock.now += 60
    settled = await service.settle_identity(AFTER)
    merged = settled.merged
    assert merged is not None
    assert (merged.kept_user, merged.removed_user) == (ada, bob)
    assert merged.kept.identity.scope_id == "E1" and merged.removed.identity.team_id == "T2"
    account = await service.bound_account(FROM_T2)
    assert account is not None and account.user == ada and account.api_token == ada_token
    assert rows(store, "SELECT user_id, scope_id FROM bindings") == [(ada.id, "E1")]
    assert await token_works(store, ada_token, clock)
    assert not await token_works(store, bob_token, clock)  # revoked, as unbinding does
    assert await events(store, AuditEvent.BINDING_MERGED) == [
        (
            "bob",
            "E1",
            "U1",
            f"kept binding {merged.kept.id} as ada (bound 1970-01-12 13:46 UTC from workspace "
            f"T1, the older); removed binding {merged.removed.id} as bob (bound 1970-01-12 "
            "14:46 UTC from workspace T2)",
        )
    ]
    assert len(await events(store, AuditEvent.BINDING_REKEYED)) == 1


async def test_when_the_organisations_binding_is_older_it_is_the_one_kept(
    store: SQLiteStore, service: BindingService, clock: Clock
) -> None:
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    bob = await store.create_user("bob", "bob@example.com", "hash", 1)
    bob_token = await bind(service, FROM_T2, bob)
    clock.now += 3600
    ada_token = await bind(service, BEFORE, ada)

    merged = (await service.settle_identity(AFTER)).merged
    assert merged is not None and (merged.kept_user, merged.removed_user) == (bob, ada)
    account = await service.bound_account(AFTER)
    assert account is not None and account.user == bob
    assert rows(store, "SELECT scope_id, team_id FROM bindings") == [("E1", "T2")]
    assert await token_works(store, bob_token, clock)
    assert not await token_works(store, ada_token, clock)
    assert [e[0] for e in await events(store, AuditEvent.BINDING_MERGED)] == ["ada"]
    # Nothing of T1's binding moved: only the removal is audited.
    assert await events(store, AuditEvent.BINDING_REKEYED) == []


async def test_two_workspaces_that_join_one_organisation_leave_one_binding(
    store: SQLiteStore, service: BindingService, clock: Clock
) -> None:
    """The person bound from T1 and from T2 before both joined E1: the first command from T1
    moves T1's binding; the first from T2 finds E1's taken and removes T2's, the newer."""
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    await bind(service, BEFORE, ada)
    clock.now += 60
    t2_token = await bind(service, T2_BEFORE, ada)

    assert (await service.settle_identity(AFTER)).merged is None
    merged = (await service.settle_identity(FROM_T2)).merged
    assert merged is not None and merged.kept_user == merged.removed_user == ada
    assert rows(store, "SELECT scope_id, team_id FROM bindings") == [("E1", "T1")]
    assert not await token_works(store, t2_token, clock)


async def test_the_removed_bindings_oauth_grant_goes_with_it(
    store: SQLiteStore, service: BindingService, clock: Clock
) -> None:
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    await bind(service, BEFORE, ada)
    clock.now += 60
    link = await service.issue_link(FROM_T2, PROFILE)
    grant = NewGrant("https://idp.example", "ada", "sealed-access", None, None, "openid")
    await service.confirm(link.nonce, ada, WEB, grant=grant)
    assert rows(store, "SELECT count(*) FROM oauth_grants") == [(1,)]

    removed = await store.rekey_to_organisation(AFTER, clock())
    assert removed.removed is not None and removed.removed.grant is not None
    assert removed.removed.grant.issuer == "https://idp.example"
    assert rows(store, "SELECT count(*) FROM oauth_grants") == [(0,)]


async def test_concurrent_commands_settle_once(store: SQLiteStore, service: BindingService) -> None:
    ada = await store.create_user("ada", "ada@example.com", "hash", 1)
    await bind(service, BEFORE, ada)
    results = await asyncio.gather(*(service.settle_identity(AFTER) for _ in range(5)))
    assert sum(r.moved is not None for r in results) == 1
    assert len(await events(store, AuditEvent.BINDING_REKEYED)) == 1
    assert rows(store, "SELECT scope_id FROM bindings") == [("E1",)]


async def test_what_other_features_key_on_the_identity_moves_too(
    store: SQLiteStore, service: BindingService, clock: Clock
) -> None:
    with sqlite3.connect(store.path) as db:
        db.execute(
            "INSERT INTO ended_bindings VALUES ('T1', 'U1', 1, 'ada', 'disabled', 5), "
            "('T2', 'U1', 1, 'ada', 'removed', 6), ('E1', 'U1', 1, 'ada', 'removed', 7)"
        )
        db.execute(
            "INSERT INTO link_resends VALUES ('T1', 'U1', 100), ('T2', 'U1', 50), ('E1', 'U1', 80)"
        )
    await service.settle_identity(AFTER)
    await service.settle_identity(FROM_T2)
    assert rows(store, "SELECT scope_id, reason FROM ended_bindings") == [("E1", "removed")]
    # The latest resend counts, so the once-a-minute limit still holds.
    assert rows(store, "SELECT scope_id, sent_at FROM link_resends") == [("E1", 100)]
    # Nothing of the kind was a binding or a live link: nothing to audit.
    assert await events(store, AuditEvent.BINDING_REKEYED) == []


async def test_an_administrator_unbinds_and_finds_a_grid_identity_by_organisation(
    tmp_path: Path,
) -> None:
    """`W` user IDs and organisation IDs, as `audit` prints them, work in the CLI."""
    from processes import run_command

    store = SQLiteStore(tmp_path / "app.sqlite3")
    await store.open()
    try:
        service = BindingService(
            store,
            TokenCipher(CLI_KEY),
            AuditLog(store),
            Directory(),
            BindingPolicy(ttl_seconds=600),
        )
        ada = await store.create_user("ada", "ada@example.com", "hash", 1)
        grid = SlackIdentity.from_ids(team_id="T0ONE", user_id="W0ADA", enterprise_id="E0ORG")
        await bind(service, grid, ada)
    finally:
        await store.close()

    code, out, err = await run_command(
        tmp_path, "audit", "--slack-user", "E0ORG/W0ADA", "--json", SECRET_KEY=CLI_KEY
    )
    assert code == 0, err
    assert {(e["event"], e["slack_scope"], e["slack_user"]) for e in json.loads(out)} == {
        ("link_issued", "E0ORG", "W0ADA"),
        ("bound", "E0ORG", "W0ADA"),
    }
    code, out, err = await run_command(tmp_path, "unbind", "E0ORG/W0ADA", SECRET_KEY=CLI_KEY)
    assert code == 0 and "Removed the binding of E0ORG/W0ADA" in out, err
    assert rows_at(tmp_path / "app.sqlite3", "SELECT count(*) FROM bindings") == [(0,)]


CLI_KEY = "x4Jq0r2mT8vLw6bN1cZs9eYh3uKd5fGa7pRt"


def rows_at(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()
