"""Authorization requests under way, kept on the server: single sign-on's login, the OAuth
grant at binding and Sign in with Slack all send the browser to a provider and take it back.

`begin` makes the request's `state` (RFC 6749 section 10.12), `nonce` (OpenID Connect Core 1.0
section 15.5.2) and PKCE code verifier (RFC 7636), and a browser key that the site sets as a
cookie of its own. Only SHA-256 hashes of the state and the browser key are stored. `finish`
gives the flow back once: to the browser that began it (its key matches), for the purpose it
was begun for, before it expires. So a callback URL replayed, or opened in another browser
(a link an attacker sends after starting a login of their own: login CSRF), does nothing.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Literal

from .clock import Clock, system_clock
from .errors import DomainError
from .store import Store, StoredFlow
from .tokens import digest, new_secret

#: Seconds a person has to come back from the provider.
FLOW_TTL_SECONDS = 600

Purpose = Literal["login", "grant", "slack"]


class FlowRefused(DomainError):
    """The callback matches no flow this browser began: unknown, used, expired, begun for
    another purpose or in another browser. `reason` says which, for the audit log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            "This sign-in was not started in this browser, was already used, or has expired. "
            "Start again."
        )


@dataclass(frozen=True)
class StartedFlow:
    """What the site needs to send the browser on: the request's values and the browser key
    to set as the flow cookie."""

    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    browser_key: str = field(repr=False)


@dataclass(frozen=True)
class Flow:
    """A flow taken back at its callback."""

    purpose: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    #: The local path to return to afterwards.
    next_path: str
    #: SHA-256 of the binding link the flow was begun for, if any.
    link_hash: str | None
    #: SHA-256 of the session cookie the flow was begun in, if any.
    session_hash: str | None


class AuthorizationFlows:
    def __init__(
        self, store: Store, clock: Clock = system_clock, ttl_seconds: int = FLOW_TTL_SECONDS
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl_seconds

    async def begin(
        self,
        purpose: Purpose,
        *,
        next_path: str,
        link_hash: str | None = None,
        session_hash: str | None = None,
    ) -> StartedFlow:
        started = StartedFlow(
            state=new_secret(),
            nonce=new_secret(),
            code_verifier=new_secret(),
            browser_key=new_secret(),
        )
        now = self._clock()
        await self._store.add_authorization_flow(
            StoredFlow(
                state_hash=digest(started.state),
                purpose=purpose,
                browser_hash=digest(started.browser_key),
                nonce=started.nonce,
                code_verifier=started.code_verifier,
                next_path=next_path,
                link_hash=link_hash,
                session_hash=session_hash,
                created_at=now,
                expires_at=now + self._ttl,
            )
        )
        return started

    async def finish(self, purpose: Purpose, state: object, browser_key: object) -> Flow:
        """The flow `state` names, used up. Raises FlowRefused."""
        if not isinstance(state, str) or not state or len(state) > 200:
            raise FlowRefused("no state")
        stored = await self._store.take_authorization_flow(digest(state), self._clock())
        if stored is None:
            raise FlowRefused("unknown or used state")
        if stored.expires_at < self._clock():
            raise FlowRefused("expired")
        if stored.purpose != purpose:
            raise FlowRefused(f"begun for {stored.purpose}")
        if not isinstance(browser_key, str) or not hmac.compare_digest(
            digest(browser_key).encode(), stored.browser_hash.encode()
        ):
            raise FlowRefused("another browser")
        return Flow(
            purpose=stored.purpose,
            nonce=stored.nonce,
            code_verifier=stored.code_verifier,
            next_path=stored.next_path,
            link_hash=stored.link_hash,
            session_hash=stored.session_hash,
        )

    async def purge(self) -> int:
        """Remove flows that expired: the hourly purge calls it."""
        return await self._store.purge_authorization_flows(self._clock())
