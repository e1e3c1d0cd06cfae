"""ACT_AS=oauth2: a bound person's own OAuth 2.0 tokens, kept per binding.

A binding made under ACT_AS=oauth2 holds the tokens its person granted at binding (the
`oauth_grants` table, encrypted with `TokenCipher` under SECRET_KEY). `OAuthGrants` gives the
Slack side an access token to act with: the stored one while it lives, a refreshed one (RFC
6749 section 6) when less than min(60 s, a tenth of its lifetime) is left, and a refreshed one
once after the application refused the current one (HTTP 401). When the binding goes, its
tokens are revoked (RFC 7009).

Refreshes of one binding are serialised across threads, event loops and processes by a lease
in the database (`oauth_grants.refreshing_until`, taken with one conditional write): a server
that rotates refresh tokens treats a refresh token used twice as stolen and ends the grant
(OAuth 2.0 Security Best Current Practice, RFC 9700 section 4.14.2), which would log the person
out. Whoever does not get the lease waits, polling the store, for the holder's new token.

A refresh the server refuses (`invalid_grant`: revoked, expired, the person withdrew their
consent) removes the binding and its grant (`GrantEnded`): the person links again. A server
that cannot be reached leaves everything as it was (`ProviderUnreachable`).

`PendingGrants` keeps a grant with a web session until Connect binds with it: when the login
(AUTH=oidc) is at the same provider, its one consent also grants the tokens.

Nothing here speaks HTTP or knows Slack: the provider is a `Refresher` and `Revoker`, which
`relying_party.Provider` is; its errors are relying_party's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from relying_party.errors import ProviderError, ProviderRefused
from relying_party.grants import TokenGrant

from .audit import Actor, AuditEvent, AuditLog
from .clock import Clock, system_clock
from .crypto import TokenCipher
from .errors import DomainError
from .models import Binding, User
from .store import NewGrant, RefreshedTokens, Store, StoredGrant
from .tokens import digest

log = logging.getLogger(__name__)

#: A token is refreshed when less than this many seconds of it are left...
REFRESH_MARGIN_SECONDS = 60
#: ... or less than this share of its lifetime, whichever is less.
REFRESH_MARGIN_SHARE = 0.1
#: Seconds between two looks at the store while another refresh of the binding runs.
POLL_SECONDS = 0.1


class GrantedTokens(Protocol):
    """What a token endpoint granted (`relying_party.TokenGrant` is one): `expires_at` in
    Unix seconds (None: no lifetime given), `id_token_claims` validated (None: no ID token)."""

    @property
    def access_token(self) -> str: ...
    @property
    def refresh_token(self) -> str | None: ...
    @property
    def expires_at(self) -> int | None: ...
    @property
    def scope(self) -> str | None: ...
    @property
    def id_token_claims(self) -> dict[str, Any] | None: ...


class Refresher(Protocol):
    async def refresh(self, refresh_token: str) -> GrantedTokens:
        """New tokens for `refresh_token` (RFC 6749 section 6). Raises
        relying_party.ProviderRefused (`invalid_grant`: no longer honoured) or
        ProviderUnavailable."""
        ...


class Revoker(Protocol):
    async def revoke(self, token: str, *, token_type_hint: str = ...) -> bool:
        """Revoke `token` (RFC 7009); False when the server has no revocation endpoint.
        Raises relying_party.ProviderError."""
        ...


class GrantServer(Refresher, Revoker, Protocol):
    """The authorization server that issues the people's tokens (OAUTH2_ISSUER)."""


class GrantEnded(DomainError):
    """The binding can no longer act: its provider refused to refresh its grant (`reason`
    "refused", the binding was removed) or the binding was removed meanwhile ("gone"). The
    person links again."""

    def __init__(self, provider_name: str, reason: Literal["refused", "gone"]) -> None:
        self.provider_name = provider_name
        self.reason = reason
        super().__init__(
            f"Your connection was ended at {provider_name} (the sign-in it was granted with "
            f"was withdrawn or has expired), so it was removed. Connect your account again."
            if reason == "refused"
            else "Your connection was removed. Connect your account again."
        )


class ProviderUnreachable(DomainError):
    """The provider did not answer in time or could not refresh the tokens now (nor did
    another refresh of the binding finish in time); the binding is kept."""

    def __init__(self, provider_name: str) -> None:
        super().__init__(
            f"Could not reach {provider_name}, so nothing was done. Try again in a minute."
        )


@dataclass(frozen=True)
class GrantTimings:
    """`lease_seconds`: how long a refresh may hold its binding's lease (longer than a
    refresh can take: the provider's deadline, twice, for discovery and the token call).
    `wait_seconds`: how long a command waits for another's refresh before giving up."""

    lease_seconds: int
    wait_seconds: float
    poll_seconds: float = POLL_SECONDS

    @classmethod
    def for_provider_timeout(cls, provider_timeout: float) -> GrantTimings:
        lease = int(2 * provider_timeout) + 2
        return cls(lease_seconds=lease, wait_seconds=lease + 1)


class OAuthGrants:
    """The bindings' OAuth grants at one provider, whose issuer identifier is `issuer` and
    which people know as `provider_name`."""

    def __init__(
        self,
        store: Store,
        cipher: TokenCipher,
        provider: GrantServer,
        audit: AuditLog,
        *,
        issuer: str,
        provider_name: str,
        timings: GrantTimings,
        clock: Clock = system_clock,
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._provider = provider
        self._audit = audit
        self.issuer = issuer
        self.provider_name = provider_name
        self._timings = timings
        self._clock = clock

    def __repr__(self) -> str:
        return f"OAuthGrants(issuer={self.issuer!r})"

    def seal(self, tokens: GrantedTokens) -> NewGrant:
        """The grant to store with a new binding: encrypted, for the ID token's subject.
        Raises ValueError when the tokens came without a validated ID token (ask for the
        `openid` scope): nobody could say whose they are."""
        claims = tokens.id_token_claims or {}
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise ValueError("the grant has no ID token naming its subject (scope openid)")
        return NewGrant(
            issuer=self.issuer,
            subject=subject,
            access_token_ciphertext=self._cipher.encrypt(tokens.access_token),
            refresh_token_ciphertext=(
                self._cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None
            ),
            expires_at=tokens.expires_at,
            scope=tokens.scope,
        )

    async def claim(self, user: User, tokens: GrantedTokens) -> NewGrant:
        """The grant sealed for binding to `user`, once the ID token's subject at this issuer
        is recorded as `user`'s identity (user_identities). Raises IdentityTaken when that
        identity is another user's (nothing is recorded), ValueError as `seal`."""
        sealed = self.seal(tokens)
        await self._store.add_user_identity(user.id, sealed.issuer, sealed.subject, self._clock())
        return sealed

    async def is_usable(self, binding: Binding) -> bool | None:
        """True when the binding has a grant this key can read; False when it has none (made
        under another ACT_AS); None when its tokens cannot be decrypted (SECRET_KEY changed)."""
        grant = await self._store.get_oauth_grant(binding.id)
        if grant is None:
            return False
        return True if self._cipher.decrypt(grant.access_token_ciphertext) is not None else None

    async def access_token(self, binding: Binding) -> str:
        """An access token of `binding` to act with: the stored one unless it is due for
        refresh (less than min(60 s, a tenth of its lifetime) left), else a refreshed one.
        Raises GrantEnded or ProviderUnreachable."""
        grant = await self._store.get_oauth_grant(binding.id)
        if grant is None:
            raise GrantEnded(self.provider_name, "gone")
        if not self._due(grant):
            return self._access(grant)
        return await self._refresh(binding, lambda g: not self._due(g), "before it expires")

    async def access_token_after_rejection(self, binding: Binding, rejected: str) -> str:
        """A new access token of `binding` after the application refused `rejected` (HTTP
        401): another refresh's, when one replaced it meanwhile, else one refreshed now.
        Raises GrantEnded or ProviderUnreachable."""
        return await self._refresh(
            binding, lambda g: self._access(g) != rejected, "after the application refused it"
        )

    async def revoke(self, grant: StoredGrant) -> None:
        """Revoke the grant's refresh token, then its access token, at the provider (RFC 7009),
        each within the provider's deadline. Failures are logged (without a token) and
        swallowed: the binding is already gone, which is what the person asked for."""
        for ciphertext, hint in (
            (grant.refresh_token_ciphertext, "refresh_token"),
            (grant.access_token_ciphertext, "access_token"),
        ):
            token = self._cipher.decrypt(ciphertext) if ciphertext else None
            if token is not None and not await self._revoke(token, hint, grant.binding_id):
                return

    async def revoke_unused(self, tokens: GrantedTokens) -> None:
        """Revoke the new tokens of a refresh whose binding was removed meanwhile (as the
        removal revoked its old ones)."""
        for token, hint in (
            (tokens.refresh_token, "refresh_token"),
            (tokens.access_token, "access_token"),
        ):
            if token and not await self._revoke(token, hint, None):
                return

    # Refreshing

    def _due(self, grant: StoredGrant) -> bool:
        if grant.expires_at is None:
            return False
        lifetime = max(0, grant.expires_at - grant.updated_at)
        margin = min(REFRESH_MARGIN_SECONDS, lifetime * REFRESH_MARGIN_SHARE)
        return grant.expires_at - self._clock() < margin

    def _access(self, grant: StoredGrant) -> str:
        token = self._cipher.decrypt(grant.access_token_ciphertext)
        if token is None:  # SECRET_KEY changed: the domain removes such bindings first
            raise ValueError(f"the access token of binding {grant.binding_id} is unreadable")
        return token

    async def _refresh(self, binding: Binding, satisfied: _Check, why: str) -> str:
        """The access token once `satisfied` holds: refreshed here under the lease, or by
        whoever holds it (waited for, polling, up to `wait_seconds`)."""
        deadline = time.monotonic() + self._timings.wait_seconds
        while True:
            now = self._clock()
            lease = now + self._timings.lease_seconds
            leased = await self._store.lease_oauth_grant_refresh(binding.id, now, lease)
            if leased is not None:
                return await self._refresh_under_lease(binding, leased, lease, satisfied, why)
            current = await self._store.get_oauth_grant(binding.id)
            if current is None:
                raise GrantEnded(self.provider_name, "gone")
            if satisfied(current):  # another refresh finished
                return self._access(current)
            if time.monotonic() >= deadline:
                log.warning(
                    "Gave up waiting for another refresh of the OAuth grant of binding %s "
                    "after %gs",
                    binding.id,
                    self._timings.wait_seconds,
                )
                raise ProviderUnreachable(self.provider_name)
            await asyncio.sleep(self._timings.poll_seconds)

    async def _refresh_under_lease(
        self, binding: Binding, leased: StoredGrant, lease: int, satisfied: _Check, why: str
    ) -> str:
        try:
            if satisfied(leased):  # a refresh finished between our look and the lease
                await self._store.release_oauth_grant_refresh(binding.id, lease)
                return self._access(leased)
            refresh_token = (
                self._cipher.decrypt(leased.refresh_token_ciphertext)
                if leased.refresh_token_ciphertext
                else None
            )
            if refresh_token is None:
                log.warning(
                    "The OAuth grant of binding %s has no refresh token (did OAUTH2_SCOPES "
                    "ask for one?): removed the binding",
                    binding.id,
                )
                await self._end(binding, "no refresh token")
                raise GrantEnded(self.provider_name, "refused")
            try:
                tokens = await self._provider.refresh(refresh_token)
            except ProviderRefused as error:
                if error.error == "invalid_grant":
                    log.info(
                        "%s refused to refresh the OAuth grant of binding %s (invalid_grant): "
                        "removed the binding",
                        self.issuer,
                        binding.id,
                    )
                    await self._end(binding, "grant refused at the provider")
                    raise GrantEnded(self.provider_name, "refused") from None
                log.error(
                    "%s refused to refresh the OAuth grant of binding %s: %s (check "
                    "OAUTH2_CLIENT_ID and OAUTH2_CLIENT_SECRET)",
                    self.issuer,
                    binding.id,
                    error,
                )
                raise ProviderUnreachable(self.provider_name) from None
            except ProviderError as error:  # unreachable, or an answer it could not read
                log.warning(
                    "Could not refresh the OAuth grant of binding %s: %s", binding.id, error
                )
                raise ProviderUnreachable(self.provider_name) from None
            stored = await self._store.store_refreshed_oauth_grant(
                binding.id,
                lease,
                RefreshedTokens(
                    access_token_ciphertext=self._cipher.encrypt(tokens.access_token),
                    refresh_token_ciphertext=(
                        self._cipher.encrypt(tokens.refresh_token)
                        if tokens.refresh_token
                        else leased.refresh_token_ciphertext
                    ),
                    expires_at=tokens.expires_at,
                    scope=tokens.scope or leased.scope,
                ),
                self._clock(),
            )
        except BaseException:
            # Whatever went wrong (cancelled at COMMAND_TIMEOUT included), let the next
            # refresh go ahead at once rather than when the lease runs out.
            await self._store.release_oauth_grant_refresh(binding.id, lease)
            raise
        if not stored:
            if await self._store.get_oauth_grant(binding.id) is None:
                # Unlinked while refreshing: these new tokens belong to nobody.
                await self.revoke_unused(tokens)
                raise GrantEnded(self.provider_name, "gone")
            log.warning(
                "The refresh lease of binding %s ran out before its new tokens were stored",
                binding.id,
            )
        log.info("Refreshed the OAuth grant of binding %s %s", binding.id, why)
        return tokens.access_token

    async def _end(self, binding: Binding, detail: str) -> None:
        """Remove the binding whose grant the provider no longer honours, audited as
        `unbound`, and revoke what is left of it."""
        removed = await self._store.remove_binding_and_grant(binding.identity, self._clock())
        if removed is None:
            return
        owner = await self._store.get_user(binding.user_id)
        await self._audit.record(AuditEvent.UNBOUND, Actor(user=owner), binding.identity, detail)
        if removed.grant is not None:
            await self.revoke(removed.grant)

    async def _revoke(self, token: str, hint: str, binding_id: int | None) -> bool:
        """Revoke one token; False when there is no point going on (no endpoint)."""
        whose = f"binding {binding_id}" if binding_id is not None else "an unused grant"
        try:
            revoked = await self._provider.revoke(token, token_type_hint=hint)
        except ProviderError as error:
            log.warning("Could not revoke the %s of %s at %s: %s", hint, whose, self.issuer, error)
            return True
        if not revoked:
            log.info(
                "%s offers no revocation endpoint: the tokens of %s stay live until they expire",
                self.issuer,
                whose,
            )
            return False
        return True


class _Check(Protocol):
    def __call__(self, grant: StoredGrant, /) -> bool: ...


class PendingGrants:
    """A grant kept with a web session (`sessions.grant_ciphertext`, encrypted) until Connect
    binds with it: the tokens of a login at the same provider (AUTH=oidc), so that one consent
    both logs in and grants. Sessions are named by their cookie value."""

    def __init__(self, store: Store, cipher: TokenCipher) -> None:
        self._store = store
        self._cipher = cipher

    async def keep(self, session_token: str, grant: TokenGrant) -> None:
        """Keep `grant` with the session (replacing one kept before); nothing when there is
        no such session."""
        document = {
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expires_at": grant.expires_at,
            "scope": grant.scope,
            "id_token_claims": grant.id_token_claims,
        }
        await self._store.keep_session_grant(
            digest(session_token), self._cipher.encrypt(json.dumps(document))
        )

    async def take(self, session_token: str) -> TokenGrant | None:
        """The grant kept with the session, cleared: a grant is bound at most once. None when
        there is none or it cannot be read (SECRET_KEY changed)."""
        ciphertext = await self._store.take_session_grant(digest(session_token))
        plaintext = self._cipher.decrypt(ciphertext) if ciphertext else None
        if plaintext is None:
            return None
        document = json.loads(plaintext)
        return TokenGrant(
            access_token=document["access_token"],
            refresh_token=document["refresh_token"],
            expires_at=document["expires_at"],
            scope=document["scope"],
            id_token_claims=document["id_token_claims"],
        )
