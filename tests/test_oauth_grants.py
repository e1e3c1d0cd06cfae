"""account_binding.oauth_grants over a real SQLite file and the real OpenID provider on
loopback: when a token is refreshed, one refresh of a binding at a time across processes (two
stores on one file, as two processes have), a lease left behind runs out, waiting has a
deadline, a refused refresh ends the binding, and pending grants are kept encrypted and taken
once."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from account_binding.audit import AuditLog
from account_binding.crypto import TokenCipher
from account_binding.models import Binding, SlackIdentity, SlackProfile
from account_binding.oauth_grants import (
    GrantEnded,
    GrantTimings,
    OAuthGrants,
    PendingGrants,
    ProviderUnreachable,
)
from account_binding.sqlite_store import SQLiteStore
from account_binding.tokens import digest
from relying_party import Provider, TokenGrant, new_code_verifier, new_secret_value
from tests.oidc_provider import REDIRECT_URI, RunningProvider, running_provider, sign_in_at_provider

KEY = "test-secret-key-for-encryption-at-rest"
IDENTITY = SlackIdentity.from_ids(team_id="T0ACME", user_id="U0ADA", enterprise_id=None)


class SlowCountingProvider:
    """The real provider, with each refresh counted and made to take a while longer (so that
    refreshes that are not serialised would overlap)."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.refreshes = 0

    async def refresh(self, refresh_token: str) -> TokenGrant:
        self.refreshes += 1
        await asyncio.sleep(0.3)
        return await self.provider.refresh(refresh_token)

    async def revoke(self, token: str, *, token_type_hint: str = "refresh_token") -> bool:  # noqa: S107
        return await self.provider.revoke(token, token_type_hint=token_type_hint)


@dataclass
class Setup:
    running: RunningProvider
    provider: SlowCountingProvider
    database: Path
    stores: list[SQLiteStore]
    cipher: TokenCipher

    def grants(
        self, store: SQLiteStore, *, wait_seconds: float = 10, clock: Any = None
    ) -> OAuthGrants:
        return OAuthGrants(
            store,
            self.cipher,
            self.provider,
            AuditLog(store),
            issuer=self.running.issuer,
            provider_name="the test provider",
            timings=GrantTimings(lease_seconds=10, wait_seconds=wait_seconds, poll_seconds=0.05),
            **({"clock": clock} if clock else {}),
        )

    async def store(self) -> SQLiteStore:
        store = SQLiteStore(self.database)
        await store.open()
        self.stores.append(store)
        return store

    def set_grant(self, **columns: int | None) -> None:
        with sqlite3.connect(self.database) as db:
            for name, value in columns.items():
                db.execute(f"UPDATE oauth_grants SET {name} = ?", [value])

    def stored_access_token(self) -> str:
        with sqlite3.connect(self.database) as db:
            (ciphertext,) = db.execute(
                "SELECT access_token_ciphertext FROM oauth_grants"
            ).fetchone()
        token = self.cipher.decrypt(ciphertext)
        assert token
        return token

    def active(self, token: str) -> bool:
        response = httpx.post(
            self.running.metadata()["introspection_endpoint"],
            data={"token": token},
            auth=(self.running.client_id, self.running.client_secret),
            timeout=10,
        )
        return bool(response.json()["active"])


@pytest.fixture
def provider_process(tmp_path: Path) -> Iterator[RunningProvider]:
    with running_provider(tmp_path) as running:
        yield running


@pytest.fixture
async def setup(tmp_path: Path, provider_process: RunningProvider) -> AsyncIterator[Setup]:
    provider = Provider(
        provider_process.issuer,
        provider_process.client_id,
        provider_process.client_secret,
        timeout=10,
    )
    made = Setup(
        provider_process,
        SlowCountingProvider(provider),
        tmp_path / "app.sqlite3",
        [],
        TokenCipher(KEY),
    )
    try:
        yield made
    finally:
        for store in made.stores:
            await store.close()


async def granted(running: RunningProvider) -> TokenGrant:
    """Tokens for alice with a refresh token, from a real code flow."""
    client = Provider(running.issuer, running.client_id, running.client_secret, timeout=10)
    state, nonce, verifier = new_secret_value(), new_secret_value(), new_code_verifier()
    url = await client.authorization_url(
        REDIRECT_URI,
        "openid offline_access",
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        prompt="consent",
    )

    def sign_in() -> dict[str, str]:
        with httpx.Client(timeout=10) as browser:
            return sign_in_at_provider(browser, url, REDIRECT_URI)

    answer = await asyncio.to_thread(sign_in)
    return await client.exchange_code(
        REDIRECT_URI, answer["code"], code_verifier=verifier, nonce=nonce
    )


async def bound(setup: Setup, store: SQLiteStore) -> tuple[Binding, TokenGrant]:
    """A binding holding a fresh grant."""
    now = int(time.time())
    user = await store.create_user("ada", "ada@example.com", "!", now)
    await store.add_binding_request("h" * 64, IDENTITY, SlackProfile("ada", "Acme"), now, now + 600)
    tokens = await granted(setup.running)
    binding = await store.complete_binding(
        "h" * 64, user.id, now, None, None, grant=setup.grants(store).seal(tokens)
    )
    return binding, tokens


async def test_refreshes_of_one_binding_are_serialised_across_processes(setup: Setup) -> None:
    """Six commands in two processes find the token due at once: one refresh, which all six
    use. The provider rotates refresh tokens and ends the grant when one is used twice."""
    first, second = await setup.store(), await setup.store()
    binding, tokens = await bound(setup, first)
    setup.set_grant(expires_at=int(time.time()) - 1)  # expired, as far as the app knows
    callers = [setup.grants(first), setup.grants(second)] * 3
    got = await asyncio.gather(*(g.access_token(binding) for g in callers))
    assert setup.provider.refreshes == 1
    assert len(set(got)) == 1 and got[0] != tokens.access_token
    assert got[0] == setup.stored_access_token() and setup.active(got[0])


async def test_a_token_is_refreshed_when_less_than_a_minute_or_a_tenth_of_its_life_is_left(
    setup: Setup,
) -> None:
    store = await setup.store()
    binding, tokens = await bound(setup, store)
    now = int(time.time())
    cases = [
        # (lifetime, seconds left, due): the margin is min(60 s, lifetime / 10)
        (100, 11, False),
        (100, 9, True),
        (3600, 61, False),
        (3600, 59, True),
    ]
    for lifetime, left, due in cases:
        setup.set_grant(updated_at=now + left - lifetime, expires_at=now + left)
        before = setup.stored_access_token()
        got = await setup.grants(store, clock=lambda: now).access_token(binding)
        assert (got != before) is due, (lifetime, left)
        assert got == setup.stored_access_token()
    assert setup.provider.refreshes == 2
    assert tokens.access_token  # the first grant was used until then


async def test_a_token_without_a_lifetime_is_refreshed_only_after_a_refusal(
    setup: Setup,
) -> None:
    store = await setup.store()
    binding, tokens = await bound(setup, store)
    setup.set_grant(expires_at=None)
    grants = setup.grants(store)
    assert await grants.access_token(binding) == tokens.access_token
    renewed = await grants.access_token_after_rejection(binding, tokens.access_token)
    assert renewed != tokens.access_token and setup.provider.refreshes == 1
    # Another command refused the same old token meanwhile: it takes the new one, no refresh.
    assert await grants.access_token_after_rejection(binding, tokens.access_token) == renewed
    assert setup.provider.refreshes == 1


async def test_a_lease_left_behind_runs_out(setup: Setup) -> None:
    """A process that took the lease and died: the others refresh once it has run out."""
    store = await setup.store()
    binding, _ = await bound(setup, store)
    now = int(time.time())
    setup.set_grant(expires_at=now - 1)
    assert await store.lease_oauth_grant_refresh(binding.id, now, now + 2) is not None
    got = await setup.grants(store).access_token(binding)
    assert setup.provider.refreshes == 1 and got == setup.stored_access_token()


async def test_waiting_for_another_refresh_has_a_deadline(setup: Setup) -> None:
    store = await setup.store()
    binding, _ = await bound(setup, store)
    now = int(time.time())
    setup.set_grant(expires_at=now - 1)
    assert await store.lease_oauth_grant_refresh(binding.id, now, now + 60) is not None
    started = time.monotonic()
    with pytest.raises(ProviderUnreachable, match="Could not reach the test provider"):
        await setup.grants(store, wait_seconds=0.5).access_token(binding)
    assert time.monotonic() - started < 30
    assert setup.provider.refreshes == 0
    assert await store.find_binding(IDENTITY) is not None


async def test_a_refresh_the_provider_refuses_ends_the_binding(setup: Setup) -> None:
    store = await setup.store()
    binding, tokens = await bound(setup, store)
    assert tokens.refresh_token
    await setup.provider.revoke(tokens.refresh_token)  # withdrawn at the provider
    setup.set_grant(expires_at=int(time.time()) - 1)
    with pytest.raises(GrantEnded, match="was ended at the test provider") as ended:
        await setup.grants(store).access_token(binding)
    assert ended.value.reason == "refused"
    assert await store.find_binding(IDENTITY) is None
    assert await store.get_oauth_grant(binding.id) is None
    with sqlite3.connect(setup.database) as db:
        assert db.execute("SELECT event, detail FROM audit_events").fetchall() == [
            ("unbound", "grant refused at the provider")
        ]


async def test_a_failed_refresh_releases_the_lease(setup: Setup) -> None:
    """The provider out of reach: the binding is kept and the next command may try at once."""
    store = await setup.store()
    binding, _ = await bound(setup, store)
    setup.set_grant(expires_at=int(time.time()) - 1)
    setup.provider.provider = Provider(
        "http://127.0.0.1:9", setup.running.client_id, "x" * 32, timeout=2
    )  # the discard port: nothing answers
    with pytest.raises(ProviderUnreachable):
        await setup.grants(store).access_token(binding)
    grant = await store.get_oauth_grant(binding.id)
    assert grant is not None and grant.refreshing_until is None


async def test_pending_grants_are_kept_encrypted_and_taken_once(setup: Setup) -> None:
    store = await setup.store()
    now = int(time.time())
    user = await store.create_user("ada", "ada@example.com", "!", now)
    session_token = "the-session-cookie"
    await store.create_session(digest(session_token), user.id, "csrf", now)
    pending = PendingGrants(store, setup.cipher)
    tokens = await granted(setup.running)
    await pending.keep(session_token, tokens)
    with sqlite3.connect(setup.database) as db:
        (stored,) = db.execute("SELECT grant_ciphertext FROM sessions").fetchone()
    assert tokens.access_token not in stored and tokens.refresh_token not in stored
    assert await pending.take("another-session") is None
    taken = await pending.take(session_token)
    assert taken == tokens
    assert await pending.take(session_token) is None
