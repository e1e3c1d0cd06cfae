"""The login-backend seam: accounts single sign-on makes (keyed by issuer and subject, never
taking over an existing account), their lack of a password, and the socket peer the site
keeps apart from the client a trusted proxy names."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import PASSWORD, browser_headers, login, run_app

from account_binding.accounts import AccountService, ExternalAccountRefused
from account_binding.audit import AuditEvent, AuditLog
from account_binding.passwords import NO_PASSWORD, verify_password
from account_binding.sqlite_store import SQLiteStore
from account_binding.store import AuditFilter

ISSUER = "https://id.example"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    yield store
    await store.close()


def identities(store: SQLiteStore) -> list[tuple[object, ...]]:
    with sqlite3.connect(store.path) as db:
        return db.execute(
            "SELECT user_id, issuer, subject FROM user_identities ORDER BY id"
        ).fetchall()


async def test_a_sign_in_makes_one_account_keyed_by_issuer_and_subject(
    store: SQLiteStore,
) -> None:
    accounts = AccountService(store, audit=AuditLog(store))
    first = await accounts.sign_in_external(ISSUER, "sub-1", " Alice ", "alice@example.com")
    assert (first.username, first.email) == ("alice", "alice@example.com")
    # A later login finds the same account by (issuer, subject), whatever the name says now,
    # and takes the new email address.
    again = await accounts.sign_in_external(ISSUER, "sub-1", "alice.renamed", "a@example.com")
    assert again.id == first.id and again.username == "alice"
    assert again.email == "a@example.com"
    assert (await accounts.user(first.id)) == again
    # No email given: the known one stays.
    assert (await accounts.sign_in_external(ISSUER, "sub-1", "alice", "")).email == "a@example.com"
    assert identities(store) == [(first.id, ISSUER, "sub-1")]
    added = await AuditLog(store).entries(AuditFilter(event=str(AuditEvent.USER_ADDED)))
    assert [(e.username, e.detail) for e in added] == [("alice", ISSUER)]


async def test_concurrent_first_logins_make_one_account(store: SQLiteStore) -> None:
    accounts = AccountService(store)
    users = await asyncio.gather(
        *(
            accounts.sign_in_external(ISSUER, "sub-1", "alice", "alice@example.com")
            for _ in range(5)
        )
    )
    assert len({u.id for u in users}) == 1
    assert len(identities(store)) == 1


async def test_an_existing_local_account_is_never_taken_over_by_name_or_email(
    store: SQLiteStore,
) -> None:
    """A person the provider calls `alice`, or who has alice's email address, does not get
    the local account alice: the sign-in is refused and nothing is linked or made."""
    accounts = AccountService(store)
    alice = await accounts.add_user("alice", "alice@example.com", PASSWORD)
    with pytest.raises(ExternalAccountRefused) as same_name:
        await accounts.sign_in_external(ISSUER, "sub-9", "Alice", "someone@example.com")
    assert same_name.value.reason == "username_taken"
    assert "already an account named 'alice'" in str(same_name.value)
    with pytest.raises(ExternalAccountRefused) as same_email:
        await accounts.sign_in_external(ISSUER, "sub-9", "alice2", "ALICE@example.com")
    assert same_email.value.reason == "email_taken"
    assert identities(store) == []
    assert [u.username for u in await accounts.users()] == ["alice"]
    assert await accounts.authenticate("alice", PASSWORD) == alice


async def test_people_with_no_known_email_address_do_not_clash(store: SQLiteStore) -> None:
    accounts = AccountService(store)
    first = await accounts.sign_in_external(ISSUER, "sub-1", "alice", "")
    second = await accounts.sign_in_external(ISSUER, "sub-2", "bob", "")
    assert first.id != second.id and first.email == second.email == ""


async def test_the_same_name_from_another_issuer_is_another_person(store: SQLiteStore) -> None:
    accounts = AccountService(store)
    await accounts.sign_in_external(ISSUER, "alice", "alice", "")
    with pytest.raises(ExternalAccountRefused) as refused:
        await accounts.sign_in_external("https://other.example", "alice", "alice", "")
    assert refused.value.reason == "username_taken"


async def test_a_later_email_another_account_has_is_refused(store: SQLiteStore) -> None:
    accounts = AccountService(store)
    await accounts.add_user("bob", "bob@example.com", PASSWORD)
    alice = await accounts.sign_in_external(ISSUER, "sub-1", "alice", "alice@example.com")
    with pytest.raises(ExternalAccountRefused) as refused:
        await accounts.sign_in_external(ISSUER, "sub-1", "alice", "Bob@example.com")
    assert refused.value.reason == "email_taken"
    assert (await accounts.user(alice.id)) == alice


async def test_a_claimed_name_must_be_a_user_name(store: SQLiteStore) -> None:
    accounts = AccountService(store)
    # Providers that name people by email address or UPN (Google, Entra) are allowed.
    upn = await accounts.sign_in_external(ISSUER, "sub-1", "Ada.L@Corp.Example", "")
    assert upn.username == "ada.l@corp.example"
    for claimed in ("", "no spaces", "zoë", "<script>", "a" * 65, "@corp.example", "a@b@c"):
        with pytest.raises(ExternalAccountRefused) as refused:
            await accounts.sign_in_external(ISSUER, f"sub-{claimed}", claimed, "")
        assert refused.value.reason == "invalid_username", claimed
    assert len(identities(store)) == 1


@pytest.mark.parametrize(
    "look_alike", ["\u212aate", "\u212aATE", "K\u0307ate", "ka\u0301te", "kate\u00a0", "\u3000kate"]
)
async def test_a_look_alike_name_does_not_become_an_existing_ones(
    store: SQLiteStore, look_alike: str
) -> None:
    """Python's lower() folds the Kelvin sign (U+212A) onto "k": a provider account named
    with it would have become the account `kate`, and acted downstream as Kate. Only A to Z
    are lower-cased; anything else is refused as a name."""
    accounts = AccountService(store)
    with pytest.raises(ExternalAccountRefused) as refused:
        await accounts.sign_in_external(ISSUER, "eve", look_alike, "eve@example.com")
    assert refused.value.reason == "invalid_username"
    kate = await accounts.sign_in_external(ISSUER, "kate", "Kate", "kate@example.com")
    assert kate.username == "kate"


def test_only_a_to_z_are_lower_cased_in_names_and_addresses() -> None:
    from account_binding.accounts import normalise_username
    from account_binding.text import ascii_lower

    assert normalise_username(" Ada.Lovelace ") == "ada.lovelace"
    assert ascii_lower("\u212aate@Acme.Example") == "\u212aate@acme.example"
    assert ascii_lower("\u0130stanbul") == "\u0130stanbul"  # lower() would add a dot above


async def test_accounts_single_sign_on_makes_have_no_password(store: SQLiteStore) -> None:
    """Their hash is "!", which no password verifies: the local login never opens them."""
    accounts = AccountService(store)
    await accounts.sign_in_external(ISSUER, "sub-1", "alice", "alice@example.com")
    found = await store.find_credentials("alice")
    assert found is not None and found[1] == NO_PASSWORD
    for password in ("!", "", PASSWORD, "anything at all"):
        assert not verify_password(NO_PASSWORD, password)
        assert await accounts.authenticate("alice", password) is None


async def test_an_sso_account_cannot_log_in_with_the_login_form(tmp_path: Path) -> None:
    async with run_app(tmp_path) as app:
        await AccountService(app.store).sign_in_external(ISSUER, "sub-1", "alice", "")
        refused = await login(app.browser(), "alice", "!")
        assert refused.status_code == 400 and "do not match an account" in refused.text


async def test_the_client_is_the_forwarded_address_only_from_a_trusted_proxy(
    tmp_path: Path,
) -> None:
    """TRUSTED_PROXIES' X-Forwarded-For names the client in the audit log (the site wraps
    uvicorn's ProxyHeadersMiddleware itself); from any other peer it is ignored."""
    async with run_app(tmp_path, TRUSTED_PROXIES="127.0.0.1") as app:
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        trusted = app.browser()
        trusted.headers.update(forwarded)
        await login(trusted, "nobody", "wrong password")
        async with httpx.AsyncClient(
            base_url=app.base_url,
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
            headers={**browser_headers(app.settings), **forwarded},
            trust_env=False,
        ) as untrusted:
            await login(untrusted, "nobody", "wrong password")
        clients = [
            row[0]
            for row in app.query(
                "SELECT client FROM audit_events WHERE event = 'login_failed' ORDER BY id"
            )
        ]
        assert clients == ["203.0.113.7", "127.0.0.2"]
