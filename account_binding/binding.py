"""The binding rules: issuing links, confirming them, reading and removing bindings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from .clock import Clock, system_clock
from .crypto import TokenCipher
from .errors import LinkExpired, LinkNotFound, LinkUsed
from .models import Binding, BindingRequest, SlackIdentity, SlackProfile, User
from .store import Store
from .tokens import digest, new_api_token, new_secret

log = logging.getLogger(__name__)

#: Used links are kept this long after they expire, so that a late click is told "already
#: used" rather than "not valid"; then they are purged.
PURGE_AFTER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class IssuedLink:
    nonce: str
    expires_at: int


@dataclass(frozen=True)
class BoundAccount:
    """A binding with the personal API token the Slack side acts with."""

    binding: Binding
    api_token: str


class Notifier(Protocol):
    """Tells the Slack person what happened to their binding."""

    async def binding_created(self, binding: Binding, user: User) -> None: ...
    async def binding_removed(self, binding: Binding) -> None: ...


class BindingService:
    def __init__(
        self,
        store: Store,
        cipher: TokenCipher,
        *,
        ttl_seconds: int,
        clock: Clock = system_clock,
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._ttl = ttl_seconds
        self._clock = clock

    async def issue_link(self, identity: SlackIdentity, profile: SlackProfile) -> IssuedLink:
        """A new one-time link for `identity`; older unused links of theirs stop working."""
        now = self._clock()
        nonce = new_secret()
        expires_at = now + self._ttl
        await self._store.add_binding_request(digest(nonce), identity, profile, now, expires_at)
        return IssuedLink(nonce=nonce, expires_at=expires_at)

    async def pending(self, nonce: str) -> BindingRequest:
        """The link's request, if it can still be confirmed; else LinkError."""
        request = await self._store.get_binding_request(digest(nonce))
        if request is None:
            raise LinkNotFound()
        if request.used_at is not None:
            raise LinkUsed()
        if request.expires_at <= self._clock():
            raise LinkExpired()
        return request

    def seconds_left(self, request: BindingRequest) -> int:
        return max(1, request.expires_at - self._clock())

    async def confirm(self, nonce: str, user: User) -> Binding:
        """Bind the link's Slack identity to `user`, consuming the link, in one transaction."""
        api_token = new_api_token()
        return await self._store.complete_binding(
            digest(nonce),
            user.id,
            self._clock(),
            digest(api_token),
            self._cipher.encrypt(api_token),
        )

    async def cancel(self, nonce: str) -> None:
        """Void the link without binding: whoever cancelled did not want it used."""
        await self._store.void_binding_request(digest(nonce), self._clock())

    async def bound_account(self, identity: SlackIdentity) -> BoundAccount | None:
        stored = await self._store.find_binding(identity)
        if stored is None:
            return None
        api_token = self._cipher.decrypt(stored.api_token_ciphertext)
        if api_token is None:
            log.error(
                "The API token of binding %s cannot be decrypted: SECRET_KEY has changed. "
                "The person must unlink and link again.",
                stored.binding.id,
            )
            return None
        return BoundAccount(binding=stored.binding, api_token=api_token)

    async def is_bound(self, identity: SlackIdentity) -> bool:
        return await self._store.find_binding(identity) is not None

    async def unbind(self, identity: SlackIdentity) -> Binding | None:
        """Remove the binding and revoke its API token; None when there was none."""
        return await self._store.remove_binding(identity, self._clock())

    async def purge(self) -> int:
        return await self._store.purge_binding_requests(self._clock() - PURGE_AFTER_SECONDS)
